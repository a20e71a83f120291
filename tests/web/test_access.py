"""Keys and access rules (durable_ext.auth) without a server: levels, sources, Host and Origin."""

import stat

import pytest

from durable_ext.auth import AuthLevel, AuthMode, load_keys, resolve_access
from durable_ext.auth.access import is_loopback
from durable_ext.errors import ConfigError

PINNED = {
    "host.master": "M" * 20,
    "host.systemKey.durabletask_extension": "S" * 20,
    "host.function.default": "H" * 20,
    "functions.Starter.default": "F" * 20,
}


def test_levels_granted_by_each_kind_of_key(tmp_path):
    keys, where = load_keys(tmp_path, PINNED, ["Starter", "Other"], create=False)
    assert "app settings" in where
    assert keys.level_of("M" * 20) is AuthLevel.ADMIN
    assert keys.level_of("S" * 20) is AuthLevel.SYSTEM
    assert keys.level_of("H" * 20, "Other") is AuthLevel.FUNCTION
    assert keys.level_of("F" * 20, "starter") is AuthLevel.FUNCTION  # function names are case-insensitive
    assert keys.level_of("F" * 20, "Other") is AuthLevel.ANONYMOUS  # another function's key
    assert keys.level_of("F" * 19, "Starter") is AuthLevel.ANONYMOUS
    assert keys.level_of(None) is AuthLevel.ANONYMOUS and keys.level_of("") is AuthLevel.ANONYMOUS
    assert keys.system_key == "S" * 20


def test_generated_files_store_is_private_and_settings_win(tmp_path):
    keys, _ = load_keys(tmp_path, {}, ["Starter"])
    directory = tmp_path / ".durable_ext" / "secrets"
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in directory.iterdir())
    again, _ = load_keys(tmp_path, {}, ["Starter"])
    assert again == keys
    pinned, _ = load_keys(tmp_path, {"host.master": "X" * 16}, ["Starter"])
    assert pinned.master == "X" * 16 and pinned.system_key == keys.system_key
    # A file someone loosened is tightened again.
    (directory / "host.json").chmod(0o644)
    load_keys(tmp_path, {}, ["Starter"])
    assert stat.S_IMODE((directory / "host.json").stat().st_mode) == 0o600


def test_container_apps_store_reads_dotted_files_and_generates_nothing(tmp_path):
    (tmp_path / "host.master").write_text("C" * 20 + "\n")
    (tmp_path / "host.systemKey.durabletask_extension").write_text("D" * 20)
    keys, where = load_keys(
        tmp_path / "app",
        {"AzureWebJobsSecretStorageType": "containerapp", "DURABLE_EXT_SECRETS_PATH": str(tmp_path)},
        ["Starter"],
    )
    assert keys.master == "C" * 20 and keys.system_key == "D" * 20 and "Container Apps" in where
    assert not (tmp_path / "app").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ConfigError, match=r"host\.master"):
        load_keys(
            tmp_path, {"AzureWebJobsSecretStorageType": "containerapp", "DURABLE_EXT_SECRETS_PATH": str(empty)}, []
        )


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"host.master": "short"}, "shorter than 16"),
        ({"AzureWebJobsSecretStorageType": "keyvault"}, "AzureWebJobsSecretStorageType"),
    ],
)
def test_bad_key_settings_are_startup_errors_naming_the_setting(tmp_path, settings, message):
    with pytest.raises(ConfigError, match=message):
        load_keys(tmp_path, settings, [])


def test_auto_requires_keys_beyond_loopback_only():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost") and is_loopback("127.8.0.1")
    assert not is_loopback("0.0.0.0") and not is_loopback("::") and not is_loopback("192.168.1.5")
    keys, _ = load_keys(__import__("pathlib").Path("/nonexistent"), PINNED, [], create=False)
    assert resolve_access(bind_host="127.0.0.1", settings={}, keys=keys).keys is None
    assert resolve_access(bind_host="0.0.0.0", settings={}, keys=keys).keys is keys
    assert resolve_access(bind_host="0.0.0.0", settings={"DURABLE_EXT_AUTH": "off"}, keys=keys).keys is None
    assert resolve_access(bind_host="127.0.0.1", settings={}, mode=AuthMode.ON, keys=keys).keys is keys
    with pytest.raises(ConfigError, match="DURABLE_EXT_AUTH"):
        resolve_access(bind_host="127.0.0.1", settings={"DURABLE_EXT_AUTH": "maybe"}, keys=keys)
    # Without keys the policy grants everything; with keys only what the key is worth.
    assert resolve_access(bind_host="127.0.0.1", settings={}, keys=None).granted(None) is AuthLevel.ADMIN


def test_host_allow_list():
    policy = resolve_access(bind_host="127.0.0.1", settings={"DURABLE_EXT_ALLOWED_HOSTS": "api.example.com"}, keys=None)
    for good in ("127.0.0.1:7071", "localhost:7071", "LOCALHOST", "[::1]:7071", "10.0.0.5", "api.example.com:443"):
        assert policy.host_allowed(good), good
    assert policy.host_allowed(None)  # HTTP/1.0 without a Host header: browsers always send one
    for bad in (
        "attacker.example:7071",
        "",
        "localhost.attacker.example",
        "[::1",
        "localhost:x",
        "127.0.0.1.nip.io",
    ):
        assert not policy.host_allowed(bad), bad
    anything = resolve_access(bind_host="127.0.0.1", settings={"DURABLE_EXT_ALLOWED_HOSTS": "*"}, keys=None)
    assert anything.host_allowed("attacker.example")


def test_origin_check_for_state_changing_requests():
    policy = resolve_access(bind_host="127.0.0.1", settings={}, cors_origins=["https://portal.example"], keys=None)
    host = "127.0.0.1:7071"
    assert policy.origin_allowed("GET", "http://attacker.example", "cross-site", host)
    assert policy.origin_allowed("POST", None, None, host)  # curl, the SDK: no Origin
    assert policy.origin_allowed("POST", "http://127.0.0.1:7071", "same-origin", host)
    assert policy.origin_allowed("DELETE", "https://portal.example/", "cross-site", host)  # Host.CORS
    assert not policy.origin_allowed("POST", "http://attacker.example", None, host)
    assert not policy.origin_allowed("POST", "http://127.0.0.1:7072", None, host)
    assert not policy.origin_allowed("DELETE", "null", None, host)
    assert not policy.origin_allowed("POST", None, "cross-site", host)
