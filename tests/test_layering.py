"""The import layering of ``durable_ext``, checked over the AST of every module.

The rule (lower never imports higher; a module may import its own layer and any layer below)::

    7  cli, __main__                     command line
    6  host, supervisor, worker,         composition roots: build the pieces below and run them;
       runner, testing, engine           engine is the one builder the roots share; supervisor recycles host processes
    5  web                               aiohttp: user HTTP triggers, webhooks, the SDK client's routes
    4  dispatcher | client, hubs         the loops that run work | instance management (hubs: which task
                                         hub a client call addresses); never each other
    3  functions                         loads function_app.py; the only user of azure.functions /
                                         azure.durable_functions
    2  providers.*                       concrete task hubs (sqlite*, azure_storage/, factory); never
                                         each other, except factory, which picks one
    1  config, log, telemetry, auth,     settings; the ``durable_ext`` logger; keys and access rules;
       providers.base                    the one Provider Protocol
    0  core, errors, durable_ext         pure: stdlib only, no I/O, time and ids passed in

Third-party and I/O imports have homes too:

- ``core`` imports no asyncio, sqlite3, aiohttp, azure or other I/O module (see ``CORE_FORBIDDEN``),
  and only ``core.wire`` imports ``json``: the JSON shapes of storage and the SDK have one home.
- Only ``functions`` imports ``azure.functions`` / ``azure.durable_functions`` (the SDK stays behind
  one seam).
- Only ``providers.azure_storage`` imports the Azure Storage SDKs (``azure.core``, ``azure.data``,
  ``azure.storage``).
- Only ``providers.sqlite*`` import ``sqlite3``.
- aiohttp belongs to the HTTP edge: ``web`` and the composition roots. The dispatcher's built-in
  ``call_http`` activity sends its requests through a transport it is given
  (``web.http_client.AiohttpTransport``).

A new module or package must have a layer: add it to ``LAYERS`` below (a name matches itself and
everything under it, the longest match wins; the names in ``EXACT`` match only themselves, so a new
provider module must be placed — and listed in ``INDEPENDENT`` — explicitly). Imports under ``if TYPE_CHECKING:`` count too — a type
that must come from a higher layer is a sign the seam is in the wrong place.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = "durable_ext"
ROOT = Path(__file__).resolve().parent.parent / PACKAGE

# Bottom first. Names are relative to the package; "" is durable_ext/__init__.py itself.
LAYERS: list[tuple[str, ...]] = [
    ("", "core", "errors"),
    ("config", "log", "telemetry", "auth", "providers", "providers.base"),
    ("providers.sqlite", "providers.sqlite_batch", "providers.sqlite_cache", "providers.sqlite_checkpoint",
     "providers.sqlite_schema", "providers.sqlite_wake", "providers.azure_storage", "providers.factory"),
    ("functions",),
    ("dispatcher", "client", "hubs"),
    ("web",),
    ("host", "supervisor", "eventloop", "worker", "runner", "testing", "engine"),
    ("cli", "__main__"),
]

# Package __init__ modules that name only themselves: a new provider module must be placed explicitly.
EXACT = {"", "providers"}

# Siblings in one layer that must not import each other (groups of names; a module in one group may
# not import a module of another group of the same tuple).
INDEPENDENT: list[tuple[tuple[str, ...], ...]] = [
    (("dispatcher",), ("client", "hubs")),
    (("providers.sqlite", "providers.sqlite_batch", "providers.sqlite_cache", "providers.sqlite_checkpoint",
      "providers.sqlite_schema", "providers.sqlite_wake"), ("providers.azure_storage",)),
]

# Third-party or stdlib top-level names -> the only places allowed to import them.
RESTRICTED: dict[str, tuple[str, ...]] = {
    "azure.functions": ("functions",),
    "azure.durable_functions": ("functions",),
    "azure.core": ("providers.azure_storage",),
    "azure.data": ("providers.azure_storage",),
    "azure.storage": ("providers.azure_storage",),
    "sqlite3": (
        "providers.sqlite",
        "providers.sqlite_batch",
        "providers.sqlite_cache",
        "providers.sqlite_checkpoint",
        "providers.sqlite_schema",
    ),
    "aiohttp": ("web", "host", "worker", "runner", "testing", "engine", "cli"),
    "multidict": ("web",),
}

# The pure core does no I/O and owns no event loop: time and ids come in as arguments.
CORE_FORBIDDEN = ("asyncio", "sqlite3", "aiohttp", "azure", "multidict", "socket", "subprocess", "os",
                  "concurrent", "urllib.request", "http", "shutil", "tempfile")


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _imports(name: str, path: Path) -> list[tuple[int, str]]:
    """Absolute names imported by one module (relative imports resolved), with line numbers."""
    is_package = path.name == "__init__.py"
    package = name.split(".") if name else []
    if not is_package:
        package = package[:-1]
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                target = ".".join([PACKAGE, *base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            out.append((node.lineno, target))
            # `from durable_ext import web` imports the module durable_ext.web.
            out += [(node.lineno, f"{target}.{alias.name}") for alias in node.names
                    if target == PACKAGE or target.startswith(PACKAGE + ".")]
    return out


def _under(name: str, prefix: str) -> bool:
    if prefix in EXACT:
        return name == prefix
    return name == prefix or name.startswith(prefix + ".")


def _best(name: str, candidates: list[str]) -> str | None:
    matches = [c for c in candidates if _under(name, c)]
    return max(matches, key=len) if matches else None


_ALL_NAMES = [n for layer in LAYERS for n in layer]


def layer_of(name: str) -> int | None:
    best = _best(name, _ALL_NAMES)
    if best is None:
        return None
    return next(i for i, layer in enumerate(LAYERS) if best in layer)


def _internal(target: str, modules: dict[str, Path]) -> str | None:
    """The project module an import names (longest existing prefix), or None if it is not ours."""
    if target != PACKAGE and not target.startswith(PACKAGE + "."):
        return None
    rel = target[len(PACKAGE) + 1:] if target != PACKAGE else ""
    while rel not in modules and rel:
        rel = rel.rpartition(".")[0]
    return rel


MODULES = _modules()


def test_every_module_has_a_layer():
    missing = [name for name in MODULES if layer_of(name) is None]
    assert not missing, f"give these modules a layer in tests/test_layering.py LAYERS: {missing}"


def test_lower_layers_never_import_higher_ones():
    problems = []
    for name, path in MODULES.items():
        mine = layer_of(name)
        for line, target in _imports(name, path):
            dep = _internal(target, MODULES)
            if dep is None or dep == name or mine is None:
                continue
            theirs = layer_of(dep)
            if theirs is not None and theirs > mine:
                problems.append(f"{path.relative_to(ROOT.parent)}:{line}: {PACKAGE}.{name or '__init__'} "
                                f"(layer {mine}) imports {PACKAGE}.{dep} (layer {theirs})")
    assert not problems, "\n".join(problems)


def test_independent_siblings_do_not_import_each_other():
    problems = []
    for groups in INDEPENDENT:
        for name, path in MODULES.items():
            own = [g for g in groups if _best(name, list(g))]
            if not own:
                continue
            for line, target in _imports(name, path):
                dep = _internal(target, MODULES)
                if dep is None:
                    continue
                for other in groups:
                    if other is not own[0] and _best(dep, list(other)):
                        problems.append(f"{path.relative_to(ROOT.parent)}:{line}: {name} imports {dep}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("library", sorted(RESTRICTED))
def test_third_party_libraries_stay_in_their_homes(library):
    homes = list(RESTRICTED[library])
    problems = []
    for name, path in MODULES.items():
        if _best(name, homes):
            continue
        for line, target in _imports(name, path):
            if target == library or target.startswith(library + "."):
                problems.append(f"{path.relative_to(ROOT.parent)}:{line}: imports {target}")
    assert not problems, f"only {homes} may import {library}:\n" + "\n".join(problems)


def test_core_is_pure():
    problems = []
    for name, path in MODULES.items():
        if not _under(name, "core"):
            continue
        for line, target in _imports(name, path):
            if any(target == bad or target.startswith(bad + ".") for bad in CORE_FORBIDDEN):
                problems.append(f"{path.relative_to(ROOT.parent)}:{line}: imports {target}")
    assert not problems, "core/ is stdlib-only and does no I/O:\n" + "\n".join(problems)


def test_only_core_wire_knows_json_in_the_core():
    # design.md: typed records everywhere, JSON dicts only in core.wire (the SDK's and storage's shapes).
    problems = []
    for name, path in MODULES.items():
        if not _under(name, "core") or _under(name, "core.wire"):
            continue
        for line, target in _imports(name, path):
            if target == "json" or target.startswith("json."):
                problems.append(f"{path.relative_to(ROOT.parent)}:{line}: imports {target}")
    assert not problems, "JSON shapes belong in core/wire/:\n" + "\n".join(problems)


def test_the_checker_sees_imports():
    # Guard against a checker that silently finds nothing (a moved package, a broken walker).
    assert "dispatcher.orchestrations" in MODULES
    targets = {t for _, t in _imports("dispatcher.orchestrations", MODULES["dispatcher.orchestrations"])}
    assert f"{PACKAGE}.providers.base" in targets
    assert layer_of("core.events") == 0 and layer_of("cli") == len(LAYERS) - 1
    assert layer_of("providers.base") == 1 and layer_of("providers.sqlite") == 2
    assert layer_of("worker.entry") == layer_of("host")
