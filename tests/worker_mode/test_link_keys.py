"""Which key worker mode's links carry (``durable_ext.worker.link_settings``, ``worker/keys.py``): read
where the Functions host keeps keys readable, never the master or a system key, and a one-line startup
error in Azure when the webhook function needs a key and none is found. No worker process needed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from durable_ext.config import load_config
from durable_ext.errors import ConfigError
from durable_ext.web.links import client_binding_json
from durable_ext.worker import WEBHOOK_AUTH_LEVEL_SETTING, WEBHOOK_KEY_SETTING, link_settings

FUNCTION_KEY = "function-key-0123456789"
HOST_KEY = "host-key-0123456789abc"
MASTER = "master-key-0123456789ab"


@pytest.fixture
def config(tmp_path):
    (tmp_path / "host.json").write_text(json.dumps({"version": "2.0"}))
    return load_config(tmp_path, environ={})


def required(config, **env: str) -> str:
    return link_settings(config, env).required_query


def test_locally_without_a_key_the_links_carry_none(config):
    assert required(config) == ""
    assert link_settings(config, {}).webhook_path == "/api/durabletask"


def test_in_azure_without_a_key_startup_fails_naming_the_setting(config):
    with pytest.raises(ConfigError) as failure:
        required(config, WEBSITE_INSTANCE_ID="i-1", **{"host.master": MASTER})
    message = str(failure.value)
    assert "\n" not in message and WEBHOOK_KEY_SETTING in message and WEBHOOK_AUTH_LEVEL_SETTING in message
    # anonymous needs no key, admin hands none out (only the master key opens it, and that stays private)
    assert required(config, WEBSITE_INSTANCE_ID="i-1", **{WEBHOOK_AUTH_LEVEL_SETTING: "anonymous"}) == ""
    assert required(config, WEBSITE_INSTANCE_ID="i-1", **{WEBHOOK_AUTH_LEVEL_SETTING: "admin", "host.master": MASTER}) == ""


def test_the_functions_own_key_wins_over_a_host_key_and_system_keys_are_never_used(config):
    both = {WEBHOOK_KEY_SETTING: FUNCTION_KEY, "host.function.default": HOST_KEY}
    assert required(config, **both) == f"code={FUNCTION_KEY}"
    assert required(config, **{"host.function.default": HOST_KEY}) == f"code={HOST_KEY}"
    only_system = {"host.systemKey.durabletask_extension": HOST_KEY, "host.master": MASTER}
    assert required(config, **only_system) == ""


def test_keys_from_the_hosts_files_store(config, tmp_path):
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "host.json").write_text(json.dumps({"masterKey": {"name": "master", "value": MASTER, "encrypted": False}}))
    (secrets / "durable_ext_webhooks.json").write_text(
        json.dumps({"keys": [{"name": "default", "value": FUNCTION_KEY, "encrypted": False}]})
    )
    store = {"AzureWebJobsSecretStorageType": "files", "FUNCTIONS_SECRETS_PATH": str(secrets)}
    assert required(config, **store) == f"code={FUNCTION_KEY}"
    # App Service keeps them encrypted: a clear error, not links that the host refuses.
    (secrets / "durable_ext_webhooks.json").write_text(
        json.dumps({"keys": [{"name": "default", "value": "CfDJ8...", "encrypted": True}]})
    )
    with pytest.raises(ConfigError, match="encrypted"):
        required(config, **store)


def test_keys_from_mounted_kubernetes_key_files(config, tmp_path: Path):
    mounted = tmp_path / "functions-keys"
    mounted.mkdir()
    (mounted / "functions.durable_ext_webhooks.default").write_text(FUNCTION_KEY)
    env = {"AzureWebJobsSecretStorageType": "kubernetes", "DURABLE_EXT_SECRETS_PATH": str(mounted)}
    assert required(config, **env) == f"code={FUNCTION_KEY}"


def test_a_short_key_or_bad_level_is_refused(config):
    with pytest.raises(ConfigError, match=WEBHOOK_KEY_SETTING.replace(".", r"\.")):
        required(config, **{WEBHOOK_KEY_SETTING: "short"})
    with pytest.raises(ConfigError, match=WEBHOOK_AUTH_LEVEL_SETTING):
        required(config, **{WEBHOOK_AUTH_LEVEL_SETTING: "system"})


def test_keys_are_url_encoded_in_the_link(config):
    assert required(config, **{WEBHOOK_KEY_SETTING: "a/b+c=d-0123456789"}) == "code=a%2Fb%2Bc%3Dd-0123456789"


def test_the_client_binding_reports_the_key_as_required_query(config):
    links = link_settings(config, {WEBHOOK_KEY_SETTING: FUNCTION_KEY})
    binding = json.loads(client_binding_json("https://app.example.net", config, links=links, rpc_base_url="http://127.0.0.1:1/x/"))
    assert binding["requiredQueryStringParameters"] == f"code={FUNCTION_KEY}"
    assert binding["managementUrls"]["statusQueryGetUri"].endswith(f"&code={FUNCTION_KEY}")
    assert binding["creationUrls"]["createNewInstancePostUri"].startswith("https://app.example.net/api/durabletask/")
    assert binding["rpcBaseUrl"] == "http://127.0.0.1:1/x/"  # the SDK's own calls stay on loopback, keyless
