"""load_config / export_values against real host.json and local.settings.json files."""

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import pytest

from durable_ext.config import DEFAULT_WORKER_PROCESSES, HostConfig, SessionSettings, export_values, load_config
from durable_ext.errors import ConfigError, DurableExtError


def write_json(path: Path, doc: Any) -> Path:
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def host_json(app: Path, durable: dict[str, Any] | None = None, **extensions: Any) -> None:
    """Write a v2-shape host.json with the given durableTask section and other extensions."""
    ext = dict(extensions)
    if durable is not None:
        ext["durableTask"] = durable
    write_json(app / "host.json", {"version": "2.0", "extensions": ext})


def settings(app: Path, values: dict[str, Any] | None = None, **top: Any) -> None:
    write_json(app / "local.settings.json", {"IsEncrypted": False, "Values": values or {}, **top})


def load(app: Path, env: dict[str, str] | None = None, **kwargs: Any) -> HostConfig:
    return load_config(app, environ=env or {}, **kwargs)


def config_error(app: Path, env: dict[str, str] | None = None, **kwargs: Any) -> str:
    with pytest.raises(ConfigError) as info:
        load(app, env, **kwargs)
    return str(info.value)


# --- defaults -------------------------------------------------------------------------------------------


def test_empty_app_dir_gives_func_start_defaults(tmp_path: Path) -> None:
    config = load(tmp_path)
    per_cpu = 10 * (os.cpu_count() or 1)
    assert config.app_dir == tmp_path.resolve()
    assert config.hub_name == "TestHubName"
    assert config.storage.kind == "sqlite"
    assert config.storage.sqlite_path == tmp_path.resolve() / ".durable_ext" / "taskhub.sqlite"
    assert config.storage.connection_name == "AzureWebJobsStorage"
    assert config.storage.connection_string is None
    assert config.storage.partition_count == 4
    assert dict(config.storage.options) == {}
    assert config.max_concurrent_activities == per_cpu
    assert config.max_concurrent_orchestrations == per_cpu
    assert config.max_concurrent_entities == per_cpu
    assert config.max_entity_batch_size == 5000
    assert config.default_version is None
    assert config.route_prefix == "api"
    assert config.host == "127.0.0.1"
    assert config.port == 7071
    assert dict(config.values) == {}


def test_loading_creates_nothing_on_disk(tmp_path: Path) -> None:
    load(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_config_is_frozen(tmp_path: Path) -> None:
    config = load(tmp_path)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.port = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        config.values["X"] = "y"  # type: ignore[index]


def test_relative_app_dir_is_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "app").mkdir()
    monkeypatch.chdir(tmp_path)
    assert load_config("app", environ={}).app_dir == tmp_path.resolve() / "app"


def test_missing_app_dir_is_a_config_error(tmp_path: Path) -> None:
    assert "does not exist" in config_error(tmp_path / "nope")


def test_config_error_is_a_durable_ext_error() -> None:
    assert issubclass(ConfigError, DurableExtError)


# --- host.json shapes and parsing -----------------------------------------------------------------------


def test_v2_shape_options_are_read(tmp_path: Path) -> None:
    host_json(
        tmp_path,
        {
            "hubName": "MyTaskHub",
            "defaultVersion": "1.0",
            "maxConcurrentActivityFunctions": 3,
            "maxConcurrentOrchestratorFunctions": 4,
            "maxConcurrentEntityFunctions": 5,
            "maxEntityOperationBatchSize": 6,
            "extendedSessionsEnabled": False,
        },
        http={"routePrefix": "funcs"},
    )
    config = load(tmp_path)
    assert config.hub_name == "MyTaskHub"
    assert config.default_version == "1.0"
    assert config.max_concurrent_activities == 3
    assert config.max_concurrent_orchestrations == 4
    assert config.max_concurrent_entities == 5
    assert config.max_entity_batch_size == 6
    assert config.route_prefix == "funcs"


def test_v1_shape_top_level_durable_task_and_http(tmp_path: Path) -> None:
    write_json(
        tmp_path / "host.json",
        {
            "durableTask": {"hubName": "OldHub", "maxConcurrentActivityFunctions": 2},
            "http": {"routePrefix": ""},
        },
    )
    config = load(tmp_path)
    assert config.hub_name == "OldHub"
    assert config.max_concurrent_activities == 2
    assert config.route_prefix == ""


def test_option_names_are_case_insensitive(tmp_path: Path) -> None:
    write_json(
        tmp_path / "host.json",
        {
            "version": "2.0",
            "Extensions": {
                "DurableTask": {
                    "HUBNAME": "CaseHub",
                    "maxconcurrentactivityfunctions": 7,
                    "StorageProvider": {"Type": "azurestorage", "PartitionCount": 2},
                }
            },
        },
    )
    config = load(tmp_path)
    assert config.hub_name == "CaseHub"
    assert config.max_concurrent_activities == 7
    assert config.storage.kind == "azure_storage"
    assert config.storage.partition_count == 2


def test_host_json_with_utf8_bom_is_read(tmp_path: Path) -> None:
    doc = {"version": "2.0", "extensions": {"durableTask": {"hubName": "BomHub"}}}
    (tmp_path / "host.json").write_bytes(b"\xef\xbb\xbf" + json.dumps(doc).encode())
    assert load(tmp_path).hub_name == "BomHub"


def test_malformed_host_json_names_file_and_position(tmp_path: Path) -> None:
    (tmp_path / "host.json").write_text('{\n  "version": "2.0",\n  "extensions": {,}\n}\n')
    message = config_error(tmp_path)
    assert str(tmp_path.resolve() / "host.json") in message
    assert "line 3 column 18" in message


def test_host_json_that_is_not_an_object_is_rejected(tmp_path: Path) -> None:
    write_json(tmp_path / "host.json", ["version", "2.0"])
    assert "host.json" in config_error(tmp_path)


def test_durable_task_section_that_is_not_an_object_names_it(tmp_path: Path) -> None:
    host_json(tmp_path, "fast")  # type: ignore[arg-type]
    assert "host.json (extensions.durableTask) must be a JSON object" in config_error(tmp_path)


# --- hub name -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["abc", "a" * 45, "Hub2", "X1y2Z3"])
def test_valid_hub_names_are_accepted(tmp_path: Path, name: str) -> None:
    host_json(tmp_path, {"hubName": name})
    assert load(tmp_path).hub_name == name


@pytest.mark.parametrize("name", ["my-hub", "ab", "a" * 46, "1hub", "hub_name", "", "héhub"])
def test_invalid_hub_names_are_rejected_with_the_rule(tmp_path: Path, name: str) -> None:
    host_json(tmp_path, {"hubName": name})
    assert config_error(tmp_path) == (
        f"Task hub name {name!r} in host.json (extensions.durableTask.hubName) is invalid: it should "
        "contain only alphanumeric characters, start with a letter, and have length between 3 and 45."
    )


def test_invalid_hub_name_in_v1_shape_names_the_v1_path(tmp_path: Path) -> None:
    write_json(tmp_path / "host.json", {"durableTask": {"hubName": "my-hub"}})
    assert "host.json (durableTask.hubName)" in config_error(tmp_path)


def test_hub_name_setting_resolves_from_values(tmp_path: Path) -> None:
    host_json(tmp_path, {"hubName": "%MyTaskHub%"})
    settings(tmp_path, {"MyTaskHub": "FromValues"})
    assert load(tmp_path).hub_name == "FromValues"


def test_hub_name_setting_environment_wins_over_values(tmp_path: Path) -> None:
    host_json(tmp_path, {"hubName": "%MyTaskHub%"})
    settings(tmp_path, {"MyTaskHub": "FromValues"})
    assert load(tmp_path, {"MyTaskHub": "FromEnv"}).hub_name == "FromEnv"


def test_unresolvable_hub_name_setting_names_the_setting(tmp_path: Path) -> None:
    host_json(tmp_path, {"hubName": "%MyTaskHub%"})
    message = config_error(tmp_path)
    assert "'MyTaskHub'" in message
    assert "host.json (extensions.durableTask.hubName)" in message


def test_resolved_hub_name_is_validated_and_names_the_setting(tmp_path: Path) -> None:
    host_json(tmp_path, {"hubName": "%MyTaskHub%"})
    message = config_error(tmp_path, {"MyTaskHub": "bad-hub"})
    assert "'bad-hub' (from app setting 'MyTaskHub')" in message


def test_hub_name_that_is_not_a_string_is_rejected(tmp_path: Path) -> None:
    host_json(tmp_path, {"hubName": 42})
    assert "host.json (extensions.durableTask.hubName) must be a string" in config_error(tmp_path)


# --- storage provider -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "kind"),
    [("sqlite", "sqlite"), ("SQLite", "sqlite"), ("AzureStorage", "azure_storage"),
     ("azurestorage", "azure_storage")],
)  # fmt: skip
def test_storage_provider_type_selects_the_kind(tmp_path: Path, written: str, kind: str) -> None:
    host_json(tmp_path, {"storageProvider": {"type": written}})
    storage = load(tmp_path).storage
    assert storage.kind == kind
    assert (storage.sqlite_path is not None) == (kind == "sqlite")


# "memory" was once accepted here although no provider implements it: the host then failed later.
@pytest.mark.parametrize("written", ["mssql", "Netherite", "", 3, "memory", "Memory"])
def test_unsupported_storage_provider_type_names_setting_and_choices(tmp_path: Path, written: Any) -> None:
    host_json(tmp_path, {"storageProvider": {"type": written}})
    message = config_error(tmp_path)
    assert "host.json (extensions.durableTask.storageProvider.type)" in message
    assert json.dumps(written) in message
    assert '"sqlite"' in message and '"AzureStorage"' in message
    assert "memory" not in message.replace(json.dumps(written), "")


def test_lock_timeouts_default_and_come_from_the_environment(tmp_path: Path) -> None:
    config = load(tmp_path)
    assert config.orchestration_lock_timeout.total_seconds() == 120
    assert config.activity_lock_timeout.total_seconds() == 300
    config = load(
        tmp_path,
        env={"DURABLE_EXT_ORCHESTRATION_LOCK_SECONDS": "2.5", "DURABLE_EXT_ACTIVITY_LOCK_SECONDS": "4"},
    )
    assert config.orchestration_lock_timeout.total_seconds() == 2.5
    assert config.activity_lock_timeout.total_seconds() == 4


@pytest.mark.parametrize("name", ["DURABLE_EXT_ORCHESTRATION_LOCK_SECONDS", "DURABLE_EXT_ACTIVITY_LOCK_SECONDS"])
@pytest.mark.parametrize("raw", ["soon", "0", "-5", "nan", "inf"])
def test_a_bad_lock_timeout_is_a_config_error_naming_the_variable(tmp_path: Path, name: str, raw: str) -> None:
    message = config_error(tmp_path, env={name: raw})
    assert name in message and repr(raw) in message


def test_sqlite_path_relative_to_app_dir(tmp_path: Path) -> None:
    host_json(tmp_path, {"storageProvider": {"type": "sqlite", "path": "data/hub.db"}})
    assert load(tmp_path).storage.sqlite_path == tmp_path.resolve() / "data" / "hub.db"
    assert not (tmp_path / "data").exists()


def test_sqlite_path_absolute(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere" / "hub.db"
    host_json(tmp_path, {"storageProvider": {"path": str(target)}})
    assert load(tmp_path).storage.sqlite_path == target.resolve()


def test_sqlite_path_from_environment(tmp_path: Path) -> None:
    target = tmp_path / "env.sqlite"
    assert load(tmp_path, {"DURABLE_EXT_SQLITE_PATH": str(target)}).storage.sqlite_path == target.resolve()


def test_sqlite_path_in_host_json_wins_over_environment(tmp_path: Path) -> None:
    host_json(tmp_path, {"storageProvider": {"path": "hub.db"}})
    config = load(tmp_path, {"DURABLE_EXT_SQLITE_PATH": str(tmp_path / "env.sqlite")})
    assert config.storage.sqlite_path == tmp_path.resolve() / "hub.db"


def test_azure_storage_defaults_to_azure_web_jobs_storage(tmp_path: Path) -> None:
    host_json(tmp_path, {"storageProvider": {"type": "AzureStorage"}})
    settings(tmp_path, {"AzureWebJobsStorage": "UseDevelopmentStorage=true"})
    storage = load(tmp_path).storage
    assert storage.connection_name == "AzureWebJobsStorage"
    assert storage.connection_string == "UseDevelopmentStorage=true"
    assert storage.partition_count == 4
    assert storage.sqlite_path is None


@pytest.mark.parametrize("key", ["connectionName", "connectionStringName"])
def test_azure_connection_name_and_obsolete_alias(tmp_path: Path, key: str) -> None:
    host_json(tmp_path, {"storageProvider": {"type": "AzureStorage", key: "MyStorage"}})
    settings(tmp_path, {"MyStorage": "from-values", "AzureWebJobsStorage": "wrong"})
    storage = load(tmp_path).storage
    assert storage.connection_name == "MyStorage"
    assert storage.connection_string == "from-values"


def test_azure_connection_string_environment_wins_over_values(tmp_path: Path) -> None:
    host_json(tmp_path, {"storageProvider": {"type": "AzureStorage"}})
    settings(tmp_path, {"AzureWebJobsStorage": "from-values"})
    assert load(tmp_path, {"AzureWebJobsStorage": "from-env"}).storage.connection_string == "from-env"


def test_azure_connection_string_unset_is_none(tmp_path: Path) -> None:
    host_json(tmp_path, {"storageProvider": {"type": "AzureStorage", "connectionName": "Missing"}})
    assert load(tmp_path).storage.connection_string is None


@pytest.mark.parametrize("count", [1, 16, "8"])
def test_partition_count_in_range(tmp_path: Path, count: Any) -> None:
    host_json(tmp_path, {"storageProvider": {"type": "AzureStorage", "partitionCount": count}})
    assert load(tmp_path).storage.partition_count == int(count)


@pytest.mark.parametrize("count", [0, 17, -1, "four", 2.5, True])
def test_partition_count_out_of_range_names_the_setting(tmp_path: Path, count: Any) -> None:
    host_json(tmp_path, {"storageProvider": {"type": "AzureStorage", "partitionCount": count}})
    message = config_error(tmp_path)
    assert "host.json (extensions.durableTask.storageProvider.partitionCount)" in message
    assert "between 1 and 16" in message


def test_storage_options_keep_the_raw_dict(tmp_path: Path) -> None:
    provider = {"type": "AzureStorage", "controlQueueBatchSize": 16, "UseTablePartitionManagement": True}
    host_json(tmp_path, {"storageProvider": provider})
    assert dict(load(tmp_path).storage.options) == provider


# --- concurrency and other durableTask options ----------------------------------------------------------

LIMITS = [
    "maxConcurrentActivityFunctions",
    "maxConcurrentOrchestratorFunctions",
    "maxConcurrentEntityFunctions",
    "maxEntityOperationBatchSize",
]


@pytest.mark.parametrize("key", LIMITS)
@pytest.mark.parametrize("bad", [0, -3, "ten", 1.5, True, "5x"])
def test_non_positive_limits_name_the_key(tmp_path: Path, key: str, bad: Any) -> None:
    host_json(tmp_path, {key: bad})
    message = config_error(tmp_path)
    assert f"host.json (extensions.durableTask.{key}) must be a positive integer" in message


def test_numeric_string_limits_are_accepted(tmp_path: Path) -> None:
    host_json(tmp_path, {"maxConcurrentActivityFunctions": "12"})
    assert load(tmp_path).max_concurrent_activities == 12


def test_default_version_must_be_a_string(tmp_path: Path) -> None:
    host_json(tmp_path, {"defaultVersion": 1.0})
    assert "host.json (extensions.durableTask.defaultVersion)" in config_error(tmp_path)


@pytest.mark.parametrize(("written", "prefix"), [("", ""), ("/v1/", "v1"), ("api/v2", "api/v2")])
def test_route_prefix_is_stripped_of_slashes(tmp_path: Path, written: str, prefix: str) -> None:
    host_json(tmp_path, http={"routePrefix": written})
    assert load(tmp_path).route_prefix == prefix


# --- local.settings.json, port and host -----------------------------------------------------------------


def test_values_are_read_and_non_strings_become_json_text(tmp_path: Path) -> None:
    settings(tmp_path, {"FUNCTIONS_WORKER_RUNTIME": "python", "Retries": 5, "Flag": True, "Gone": None})
    assert dict(load(tmp_path).values) == {
        "FUNCTIONS_WORKER_RUNTIME": "python",
        "Retries": "5",
        "Flag": "true",
    }


def test_malformed_local_settings_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "local.settings.json").write_text('{"Values": {"A": "b",}}')
    message = config_error(tmp_path)
    assert str(tmp_path.resolve() / "local.settings.json") in message
    assert "line 1 column" in message


def test_encrypted_local_settings_is_rejected(tmp_path: Path) -> None:
    write_json(tmp_path / "local.settings.json", {"IsEncrypted": True, "Values": {"A": "xyz"}})
    assert "func settings decrypt" in config_error(tmp_path)


def test_values_that_are_not_an_object_are_rejected(tmp_path: Path) -> None:
    write_json(tmp_path / "local.settings.json", {"Values": ["A=b"]})
    assert "local.settings.json (Values) must be a JSON object" in config_error(tmp_path)


@pytest.mark.parametrize("written", [8080, "8080"])
def test_local_http_port_sets_the_port(tmp_path: Path, written: Any) -> None:
    settings(tmp_path, Host={"LocalHttpPort": written, "CORS": "*"})
    assert load(tmp_path).port == 8080


def test_port_argument_wins_over_local_http_port(tmp_path: Path) -> None:
    settings(tmp_path, Host={"LocalHttpPort": 8080})
    assert load(tmp_path, port=9000).port == 9000


@pytest.mark.parametrize("written", [0, 65536, "http"])
def test_invalid_local_http_port_names_the_setting(tmp_path: Path, written: Any) -> None:
    settings(tmp_path, Host={"LocalHttpPort": written})
    assert "local.settings.json (Host.LocalHttpPort) must be an integer between 1 and 65535" in config_error(tmp_path)


@pytest.mark.parametrize("port", [0, 70000])
def test_invalid_port_argument_is_rejected(tmp_path: Path, port: int) -> None:
    assert "Port must be an integer between 1 and 65535" in config_error(tmp_path, port=port)


def test_bind_host_argument_then_environment_then_default(tmp_path: Path) -> None:
    env = {"DURABLE_EXT_HOST": "0.0.0.0"}
    assert load(tmp_path, env, host="::1").host == "::1"
    assert load(tmp_path, env).host == "0.0.0.0"
    assert load(tmp_path).host == "127.0.0.1"


# --- export_values --------------------------------------------------------------------------------------


def test_export_values_sets_missing_variables_and_keeps_existing_ones(tmp_path: Path) -> None:
    settings(tmp_path, {"FUNCTIONS_WORKER_RUNTIME": "python", "AzureWebJobsStorage": "from-values"})
    environ = {"AzureWebJobsStorage": "from-env", "PATH": "/bin"}
    export_values(load(tmp_path), environ)
    assert environ == {
        "AzureWebJobsStorage": "from-env",
        "PATH": "/bin",
        "FUNCTIONS_WORKER_RUNTIME": "python",
    }


def test_extended_session_settings(tmp_path: Path) -> None:
    assert load(tmp_path).sessions == SessionSettings(enabled=True, idle_timeout=30.0, max_events=200_000)
    host_json(
        tmp_path,
        {
            "extendedSessionsEnabled": "false",
            "extendedSessionIdleTimeoutInSeconds": 5,
            "extendedSessionMaxEvents": "1000",
        },
    )
    assert load(tmp_path).sessions == SessionSettings(enabled=False, idle_timeout=5.0, max_events=1000)
    host_json(tmp_path, {"extendedSessionsEnabled": "sometimes"})
    message = config_error(tmp_path)
    assert "extendedSessionsEnabled" in message and "true or false" in message
    host_json(tmp_path, {"extendedSessionMaxEvents": 0})
    assert "extendedSessionMaxEvents" in config_error(tmp_path)


# -- functionTimeout (issue #10 finding 1) -----------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [("00:00:05", 5), ("01:30:00", 5400), ("1.02:00:00", 93600), ("00:00:02.5", 2.5), ("-1", None), (-1, None)],
)
def test_function_timeout_is_read_like_the_functions_host(tmp_path: Path, raw: Any, seconds: float | None) -> None:
    write_json(tmp_path / "host.json", {"version": "2.0", "functionTimeout": raw})
    timeout = load_config(tmp_path, environ={}).function_timeout
    assert (timeout.total_seconds() if timeout is not None else None) == seconds


def test_function_timeout_defaults_per_plan(tmp_path: Path) -> None:
    write_json(tmp_path / "host.json", {"version": "2.0"})
    assert load_config(tmp_path, environ={}).function_timeout.total_seconds() == 1800
    assert load_config(tmp_path, environ={"WEBSITE_SKU": "Dynamic"}).function_timeout.total_seconds() == 300


@pytest.mark.parametrize("raw", ["5", "00:61:00", "soon", 300, "00:00:00"])
def test_invalid_function_timeout_names_the_setting(tmp_path: Path, raw: Any) -> None:
    write_json(tmp_path / "host.json", {"version": "2.0", "functionTimeout": raw})
    with pytest.raises(ConfigError, match=r"host.json \(functionTimeout\)"):
        load_config(tmp_path, environ={})


def test_consumption_plan_caps_function_timeout(tmp_path: Path) -> None:
    write_json(tmp_path / "host.json", {"version": "2.0", "functionTimeout": "00:20:00"})
    with pytest.raises(ConfigError, match="at most 00:10:00"):
        load_config(tmp_path, environ={"WEBSITE_SKU": "Dynamic"})


# -- host processes (FUNCTIONS_WORKER_PROCESS_COUNT) -------------------------------------------


def test_worker_process_count_comes_from_the_app_setting(tmp_path: Path) -> None:
    write_json(tmp_path / "host.json", {"version": "2.0"})
    assert load_config(tmp_path, environ={}).worker_processes == DEFAULT_WORKER_PROCESSES
    assert load_config(tmp_path, environ={"FUNCTIONS_WORKER_PROCESS_COUNT": "3"}).worker_processes == 3
    write_json(tmp_path / "local.settings.json", {"Values": {"FUNCTIONS_WORKER_PROCESS_COUNT": "1"}})
    assert load_config(tmp_path, environ={}).worker_processes == 1
    assert load_config(tmp_path, environ={"FUNCTIONS_WORKER_PROCESS_COUNT": "2"}).worker_processes == 2


def test_azure_storage_hubs_run_one_host_process_unless_told_otherwise(tmp_path: Path) -> None:
    write_json(tmp_path / "host.json", {"extensions": {"durableTask": {"storageProvider": {"type": "AzureStorage"}}}})
    write_json(tmp_path / "local.settings.json", {"Values": {"AzureWebJobsStorage": "UseDevelopmentStorage=true"}})
    assert load_config(tmp_path, environ={}).worker_processes == 1
    assert load_config(tmp_path, environ={"FUNCTIONS_WORKER_PROCESS_COUNT": "2"}).worker_processes == 2


@pytest.mark.parametrize("raw", ["0", "11", "two", "1.5", "-1"])
def test_an_invalid_worker_process_count_names_the_setting(tmp_path: Path, raw: str) -> None:
    write_json(tmp_path / "host.json", {"version": "2.0"})
    with pytest.raises(ConfigError, match=r"FUNCTIONS_WORKER_PROCESS_COUNT must be a whole number from 1 to 10"):
        load_config(tmp_path, environ={"FUNCTIONS_WORKER_PROCESS_COUNT": raw})


def test_host_processes_are_bound_to_cpus_unless_the_setting_says_false(tmp_path: Path) -> None:
    write_json(tmp_path / "host.json", {"version": "2.0"})
    assert load_config(tmp_path, environ={}).pin_processes is True
    for raw, expected in (("false", False), ("False", False), ("0", False), ("true", True), ("1", True), ("", True)):
        assert load_config(tmp_path, environ={"DURABLE_EXT_PIN_PROCESSES": raw}).pin_processes is expected
    write_json(tmp_path / "local.settings.json", {"Values": {"DURABLE_EXT_PIN_PROCESSES": "false"}})
    assert load_config(tmp_path, environ={}).pin_processes is False


def test_an_invalid_pin_setting_names_it(tmp_path: Path) -> None:
    write_json(tmp_path / "host.json", {"version": "2.0"})
    with pytest.raises(ConfigError, match=r"DURABLE_EXT_PIN_PROCESSES must be true or false, got \"yes\""):
        load_config(tmp_path, environ={"DURABLE_EXT_PIN_PROCESSES": "yes"})
