"""The deployment files agree with the code they deploy.

Dockerfile, .dockerignore, docker-compose.yml, .env.example, docs/aws/*.json and the docs are parsed,
never run (no Docker engine is needed): every `taskhub` command they name exists, every variable they
set is one the app reads, ports and health-check paths match the code, and doc links resolve.
"""

from __future__ import annotations

import fnmatch
import importlib
import inspect
import json
import re
import shlex
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import typer.main
import yaml
from pydantic import AliasChoices
from typer.exceptions import TyperException

import app.cli
from app.config import Settings

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
AWS = DOCS / "aws"
APP_SERVICES = {"migrate", "api", "worker", "beat"}
LONG_RUNNING = {"api", "worker", "beat"}
IMAGE_WORKDIR = "/app"
OWN_DOCS = ("ARCHITECTURE.md", "DEPLOYMENT.md", "SECURITY.md", "TERRAFORM_ALIGNMENT.md")

#: Variables the deployment files may set that TaskHub's Settings do not declare, with the module
#: that reads them (checked below, so an entry cannot outlive its reader).
LIBRARY_ENV = {
    "PGSSLMODE": "asyncpg.connect_utils",  # TLS to PostgreSQL (libpq reads it for psycopg too)
}
#: Settings whose values are secrets: in ECS they come from Secrets Manager, never `environment`.
SECRET_SETTINGS = {"JWT_SECRET", "DATABASE_URL", "REDIS_BROKER", "REDIS_URL", "SMTP_PASSWORD"}


def setting_names() -> dict[str, set[str]]:
    """Field name → every environment name pydantic-settings reads it from."""
    names: dict[str, set[str]] = {}
    for field_name, field in Settings.model_fields.items():
        aliases = {field.alias} if field.alias else set()
        validation = field.validation_alias
        if isinstance(validation, str):
            aliases.add(validation)
        elif isinstance(validation, AliasChoices):
            aliases.update(choice for choice in validation.choices if isinstance(choice, str))
        names[field_name] = aliases
    return names


def all_setting_names() -> set[str]:
    return set().union(*setting_names().values())


def cli() -> Any:
    """The `taskhub` command group as Typer builds it (Typer vendors its own click)."""
    group = typer.main.get_command(app.cli.app)
    assert is_group(group)
    return group


def is_group(command: Any) -> bool:
    return isinstance(getattr(command, "commands", None), dict)


def resolve_command(argv: list[str]) -> Any:
    """The command `taskhub ARGV...` runs; its options must parse (nothing is invoked)."""
    assert argv[0] == "taskhub", f"not a taskhub command: {argv}"
    command = cli()
    args = argv[1:]
    while is_group(command):
        assert args, f"{shlex.join(argv)} names a command group, not a command"
        sub = command.commands.get(args[0])
        assert sub is not None, f"`taskhub` has no command {args[0]!r} (in {shlex.join(argv)})"
        command, args = sub, args[1:]
    command.make_context(shlex.join(argv), list(args))
    return command


def get_routes() -> set[str]:
    """Paths the app serves with GET, from its OpenAPI schema."""
    from app.main import app as fastapi_app

    paths: dict[str, dict[str, Any]] = fastapi_app.openapi()["paths"]
    return {path for path, operations in paths.items() if "get" in operations}


def app_port_default() -> int:
    default = Settings.model_fields["app_port"].default
    assert isinstance(default, int)
    return default


def compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(data, dict)
    return data


def services() -> dict[str, dict[str, Any]]:
    return compose()["services"]


def app_services() -> dict[str, dict[str, Any]]:
    """The services built from this repository's Dockerfile."""
    return {name: svc for name, svc in services().items() if "build" in svc}


def compose_environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(key): str(value) for key, value in env.items()}


def as_argv(command: str | list[str]) -> list[str]:
    return shlex.split(command) if isinstance(command, str) else [str(part) for part in command]


def env_example_lines() -> list[str]:
    return (ROOT / ".env.example").read_text().splitlines()


ENV_LINE = re.compile(r"^(?P<commented>#\s*)?(?P<name>[A-Z][A-Z0-9_]*)=(?P<value>.*)$")


def env_example_names() -> list[str]:
    """Names on `NAME=value` lines, including commented-out `# NAME=value` examples."""
    return [m["name"] for line in env_example_lines() if (m := ENV_LINE.match(line))]


def task_definitions() -> dict[str, dict[str, Any]]:
    return {path.name: json.loads(path.read_text()) for path in sorted(AWS.glob("*.json"))}


def containers() -> Iterator[tuple[str, dict[str, Any]]]:
    for file_name, definition in task_definitions().items():
        for container in definition["containerDefinitions"]:
            yield f"{file_name}:{container['name']}", container


def ecs_names(container: dict[str, Any], key: str) -> list[str]:
    return [entry["name"] for entry in container.get(key, [])]


def dockerfile() -> list[tuple[int, str, str]]:
    """(stage number, INSTRUCTION, arguments) for every instruction, continuations joined."""
    joined = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    instructions = []
    stage = -1
    for raw in joined.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stage += 1
        instructions.append((stage, keyword, args.strip()))
    return instructions


def final_stage() -> list[tuple[str, str]]:
    instructions = dockerfile()
    last = max(stage for stage, _, _ in instructions)
    return [(keyword, args) for stage, keyword, args in instructions if stage == last]


def exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list), f"not exec form: {args}"
    return [str(part) for part in value]


def dockerfile_healthcheck() -> list[str]:
    checks = [args for keyword, args in final_stage() if keyword == "HEALTHCHECK"]
    assert len(checks) == 1, "the final stage needs exactly one HEALTHCHECK"
    return exec_form(checks[0][checks[0].index("CMD") + len("CMD") :].strip())


def healthcheck_argv(test: list[str]) -> list[str]:
    assert test[0] in ("CMD", "CMD-SHELL"), test
    return test[1:] if test[0] == "CMD" else ["sh", "-c", *test[1:]]


def all_healthchecks() -> dict[str, list[str]]:
    """Every health-check command of a TaskHub container, as argv."""
    checks = {"Dockerfile": dockerfile_healthcheck()}
    for name, svc in app_services().items():
        test = svc.get("healthcheck", {}).get("test")
        if test:
            checks[f"compose:{name}"] = healthcheck_argv(test)
    for where, container in containers():
        if "healthCheck" in container:
            checks[where] = healthcheck_argv(container["healthCheck"]["command"])
    return checks


def python_code(argv: list[str]) -> str | None:
    return argv[2] if argv[:2] == ["python", "-c"] else None


URL = re.compile(r"https?://[^\s'\"]+")  # stops at a quote: http://host:' + port + '/path


def probed_urls(argv: list[str]) -> list[str]:
    return URL.findall(" ".join(argv))


def named_commands() -> dict[str, list[str]]:
    commands = {}
    for name, svc in app_services().items():
        commands[f"compose:{name}"] = as_argv(svc["command"])
    cmd = [args for keyword, args in final_stage() if keyword == "CMD"]
    assert len(cmd) == 1, "the final stage needs exactly one CMD"
    commands["Dockerfile CMD"] = exec_form(cmd[0])
    for where, container in containers():
        commands[where] = as_argv(container["command"])
    return commands


def test_every_taskhub_command_in_compose_dockerfile_and_ecs_is_registered() -> None:
    commands = named_commands()
    for where, argv in commands.items():
        assert argv[0] == "taskhub", f"{where} runs {argv}, not a taskhub command"
        resolve_command(argv)
    roles = {argv[1] for argv in commands.values()}
    assert {"api", "worker", "beat", "migrate"} <= roles


def test_resolve_command_refuses_unknown_commands_and_options() -> None:
    with pytest.raises(AssertionError):
        resolve_command(["taskhub", "scheduler"])
    with pytest.raises(TyperException, match="No such option"):
        resolve_command(["taskhub", "worker", "--no-such-option"])


def test_dockerfile_default_command_serves_the_api() -> None:
    assert named_commands()["Dockerfile CMD"] == ["taskhub", "api"]


def test_compose_and_ecs_give_each_role_its_command() -> None:
    for name, svc in app_services().items():
        assert as_argv(svc["command"])[:2] == ["taskhub", name]
    for where, container in containers():
        assert as_argv(container["command"])[:2] == ["taskhub", container["name"]], where


DOC_COMMAND = re.compile(r"\btaskhub ((?:[a-z][a-z-]*)(?: [a-z][a-z-]*)?)")


def inline_code(text: str) -> list[str]:
    return re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.S))


def doc_code_spans(text: str) -> list[str]:
    return re.findall(r"```.*?```", text, flags=re.S) + inline_code(text)


def test_docs_name_only_registered_taskhub_commands() -> None:
    group = cli()
    found = 0
    for doc in sorted(DOCS.glob("*.md")):
        for span in doc_code_spans(doc.read_text()):
            for words in DOC_COMMAND.findall(span):
                first, _, second = words.partition(" ")
                command = group.commands.get(first)
                assert command is not None, (
                    f"{doc.name} names `taskhub {first}`, which is no command"
                )
                if is_group(command):
                    assert second in command.commands, (
                        f"{doc.name}: `taskhub {words}` is no command"
                    )
                found += 1
    assert found >= 4


def set_variables() -> dict[str, list[str]]:
    """Where → the environment variable names that file sets for a TaskHub process."""
    sources: dict[str, list[str]] = {
        f"compose:{name}": list(compose_environment(svc)) for name, svc in app_services().items()
    }
    sources[".env.example"] = env_example_names()
    for where, container in containers():
        sources[where] = ecs_names(container, "environment") + ecs_names(container, "secrets")
    return sources


def test_every_variable_set_for_taskhub_is_a_setting_it_reads() -> None:
    known = all_setting_names() | set(LIBRARY_ENV)
    sources = set_variables()
    assert sum(len(names) for names in sources.values()) > 20
    for where, names in sources.items():
        unknown = sorted(set(names) - known)
        assert not unknown, f"{where} sets {unknown}, which nothing in TaskHub reads"


@pytest.mark.parametrize(("variable", "module"), sorted(LIBRARY_ENV.items()))
def test_non_settings_variables_are_read_by_their_library(variable: str, module: str) -> None:
    source = inspect.getsource(importlib.import_module(module))
    assert f'"{variable}"' in source or f"'{variable}'" in source


def test_env_example_lists_every_setting_once_with_a_comment() -> None:
    names = env_example_names()
    assert len(names) == len(set(names)), "a variable is listed twice"
    missing = sorted(all_setting_names() - set(names))
    assert not missing, f".env.example lacks {missing}"
    assert "REDIS_URL" in names
    lines = env_example_lines()
    for index, line in enumerate(lines):
        if ENV_LINE.match(line):
            previous = lines[index - 1]
            assert previous.startswith("#"), f".env.example: {line!r} has no comment above it"
            assert not ENV_LINE.match(previous), f".env.example: {line!r} has no comment above it"


def test_env_example_values_are_the_defaults(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in all_setting_names():
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # ENV=dev with the default secret writes .taskhub/jwt_secret
    loaded = Settings(_env_file=ROOT / ".env.example")  # type: ignore[call-arg]
    defaults = Settings.model_construct()
    compared = 0
    for field_name in Settings.model_fields:
        if field_name == "jwt_secret":
            continue  # the default is replaced by the generated dev secret
        assert getattr(loaded, field_name) == getattr(defaults, field_name), (
            f".env.example sets {field_name} to {getattr(loaded, field_name)!r}, "
            f"but its default is {getattr(defaults, field_name)!r}"
        )
        compared += 1
    assert compared == len(Settings.model_fields) - 1
    active = {
        m["name"]: m["value"]
        for line in env_example_lines()
        if (m := ENV_LINE.match(line)) and not m["commented"]
    }
    assert "DATABASE_URL" not in active  # unset by default: `taskhub dev` starts its own
    assert active["JWT_SECRET"] == Settings.model_fields["jwt_secret"].default


def test_compose_connection_settings_point_at_compose_services() -> None:
    all_services = services()
    postgres_env = compose_environment(all_services["postgres"])
    for name, svc in app_services().items():
        env = compose_environment(svc)
        database = urlsplit(env["DATABASE_URL"])
        assert database.scheme == "postgresql+asyncpg", name
        assert database.hostname in all_services
        assert database.username == postgres_env["POSTGRES_USER"]
        assert database.password == postgres_env["POSTGRES_PASSWORD"]
        assert database.path.lstrip("/") == postgres_env["POSTGRES_DB"]
        redis = urlsplit(env["REDIS_BROKER"])
        assert redis.scheme == "redis", name
        assert redis.hostname in all_services, name
        assert all_services[str(redis.hostname)]["image"].startswith("redis:"), name
        assert env["SMTP_HOST"] in all_services
        assert env["SMTP_PORT"] == "1025"
        assert all_services[env["SMTP_HOST"]]["image"].startswith("axllent/mailpit")


def test_compose_reads_an_optional_dot_env() -> None:
    for name, svc in app_services().items():
        assert {"path": ".env", "required": False} in svc["env_file"], name


def test_ecs_task_definitions_keep_secrets_out_of_environment() -> None:
    for where, container in containers():
        secrets = container.get("secrets", [])
        assert secrets, where
        for secret in secrets:
            assert secret["valueFrom"].startswith("arn:aws:secretsmanager:"), where
        in_environment = SECRET_SETTINGS & set(ecs_names(container, "environment"))
        assert not in_environment, f"{where} puts {in_environment} in plain environment"


def test_every_ecs_container_would_pass_the_prod_settings_check(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """With ENV=prod the app refuses to start without a strong JWT_SECRET: every process reads
    Settings, so every container needs it (from Secrets Manager)."""
    monkeypatch.chdir(tmp_path)
    for where, container in containers():
        with monkeypatch.context() as patch:
            for name in all_setting_names():
                patch.delenv(name, raising=False)
            for entry in container["environment"]:
                patch.setenv(entry["name"], entry["value"])
            for name in ecs_names(container, "secrets"):
                patch.setenv(name, "s" * 48 if name == "JWT_SECRET" else "secret-from-aws")
            settings = Settings(_env_file=None)  # type: ignore[call-arg]
            assert settings.env == "prod", where


def test_every_port_is_the_app_port_default() -> None:
    port = app_port_default()
    exposed = [args for keyword, args in final_stage() if keyword == "EXPOSE"]
    assert exposed == [str(port)]
    api = services()["api"]
    assert [mapping.rsplit(":", 1)[-1] for mapping in api["ports"]] == [str(port)]
    for name, svc in app_services().items():
        assert compose_environment(svc)["APP_PORT"] == str(port), name
    api_containers = [c for _, c in containers() if c["name"] == "api"]
    assert api_containers
    for container in api_containers:
        assert [m["containerPort"] for m in container["portMappings"]] == [port]
    for where, argv in all_healthchecks().items():
        for url in probed_urls(argv):
            probed = urlsplit(url).port
            if probed is None:  # built from APP_PORT at run time, with the default as fallback
                assert f"os.environ.get('APP_PORT', '{port}')" in " ".join(argv), where
            else:
                assert probed == port, f"{where} probes {url}"


def test_only_the_api_listens() -> None:
    for name, svc in app_services().items():
        if name != "api":
            assert "ports" not in svc, name
    for where, container in containers():
        if container["name"] != "api":
            assert "portMappings" not in container, where


def test_api_health_checks_probe_the_liveness_route() -> None:
    routes = get_routes()
    assert "/health" in routes
    assert "/ready" in routes
    api_checks = {
        where: argv
        for where, argv in all_healthchecks().items()
        if where in ("Dockerfile", "compose:api") or where.endswith(":api")
    }
    assert len(api_checks) == 3
    for where, argv in api_checks.items():
        paths = set(re.findall(r"[0-9']((?:/[a-z]+)+)'", " ".join(argv)))
        assert paths == {"/health"}, f"{where} probes {paths}"


def test_health_check_python_compiles() -> None:
    checked = 0
    for where, argv in all_healthchecks().items():
        code = python_code(argv)
        if code is not None:
            compile(code, where, "exec")
            checked += 1
    assert checked >= 7


def test_worker_health_checks_ping_the_celery_app() -> None:
    from app.workers import celery_app

    assert hasattr(celery_app, "celery_app")
    checks = [argv for where, argv in all_healthchecks().items() if where.endswith("worker")]
    assert len(checks) == 2
    for argv in checks:
        code = python_code(argv) or ""
        assert "from app.workers.celery_app import celery_app" in code
        assert "control.ping" in code


def test_beat_health_checks_watch_the_default_schedule_file() -> None:
    beat = cli().commands["beat"]
    schedule = next(param.default for param in beat.params if param.name == "schedule")
    expected = f"{IMAGE_WORKDIR}/{schedule}*"
    checks = [argv for where, argv in all_healthchecks().items() if where.endswith("beat")]
    assert len(checks) == 2
    for argv in checks:
        assert f"'{expected}'" in (python_code(argv) or "")
    assert ("WORKDIR", IMAGE_WORKDIR) in final_stage()


def test_compose_runs_postgres_16_and_redis_7_with_health_checks() -> None:
    all_services = services()
    assert all_services["postgres"]["image"].split(":")[1].split(".")[0] == "16"
    assert all_services["redis"]["image"].split(":")[1].split(".")[0] == "7"
    assert "pg_isready" in " ".join(all_services["postgres"]["healthcheck"]["test"])
    assert "ping" in all_services["redis"]["healthcheck"]["test"]
    assert "--appendonly" in as_argv(all_services["redis"]["command"])


def test_compose_has_the_one_image_services() -> None:
    assert set(app_services()) == APP_SERVICES
    images = {svc["image"] for svc in app_services().values()}
    builds = {json.dumps(svc["build"], sort_keys=True) for svc in app_services().values()}
    assert len(images) == 1
    assert len(builds) == 1


def test_migrate_runs_once_after_postgres_is_healthy() -> None:
    migrate = services()["migrate"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert migrate.get("healthcheck", {}).get("disable") is True


@pytest.mark.parametrize("name", sorted(LONG_RUNNING))
def test_long_running_services_wait_for_migrations_and_healthy_stores(name: str) -> None:
    svc = services()[name]
    depends_on = svc["depends_on"]
    assert depends_on["migrate"]["condition"] == "service_completed_successfully"
    assert depends_on["postgres"]["condition"] == "service_healthy"
    assert depends_on["redis"]["condition"] == "service_healthy"
    assert svc["healthcheck"]["test"], name
    assert not svc["healthcheck"].get("disable", False)


def test_worker_can_be_scaled() -> None:
    worker = services()["worker"]
    assert "container_name" not in worker
    assert "ports" not in worker
    assert worker["depends_on"]["mailpit"]["condition"] == "service_healthy"


def test_every_stage_is_python_312_slim() -> None:
    bases = [args.split()[0] for _, keyword, args in dockerfile() if keyword == "FROM"]
    assert len(bases) >= 2, "a multi-stage build"
    assert set(bases) == {"python:3.12-slim"}


def test_final_stage_runs_as_a_non_root_user() -> None:
    users = [args for keyword, args in final_stage() if keyword == "USER"]
    assert users, "the final stage sets no USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")


def test_builder_installs_locked_dependencies_before_copying_the_app() -> None:
    builder = [(keyword, args) for stage, keyword, args in dockerfile() if stage == 0]
    copies = [index for index, (keyword, args) in enumerate(builder) if keyword == "COPY"]
    lock = next(i for i in copies if "uv.lock" in builder[i][1].split())
    code = next(i for i in copies if builder[i][1].split()[0] == "app")
    deps = next(
        i for i, (keyword, args) in enumerate(builder) if keyword == "RUN" and "uv sync" in args
    )
    assert lock < deps < code
    deps_command = builder[deps][1]
    for flag in ("--frozen", "--no-dev", "--no-group embedded", "--no-group bench"):
        assert flag in deps_command
    assert "--no-install-project" in deps_command


def test_uv_version_matches_the_makefile() -> None:
    makefile = (ROOT / "Makefile").read_text()
    match = re.search(r"^UV_VERSION\s*:?=\s*(\S+)", makefile, flags=re.M)
    assert match is not None
    installs = [args for _, keyword, args in dockerfile() if "uv==" in args]
    assert installs
    assert all(f"uv=={match[1]}" in args for args in installs)


def test_final_stage_copies_only_the_venv_from_the_builder() -> None:
    stage = final_stage()
    from_builder = [args for keyword, args in stage if keyword == "COPY" and "--from=" in args]
    assert [args.split()[-2:] for args in from_builder] == [["/app/.venv", "/app/.venv"]]
    runs = " ".join(args for keyword, args in stage if keyword == "RUN")
    assert "pip install" not in runs
    assert "uv " not in runs
    path = next(args for keyword, args in stage if keyword == "ENV" and "PATH=" in args)
    assert "/app/.venv/bin" in path


def test_dockerfile_copies_only_what_exists_and_is_not_ignored() -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]

    def ignored(path: str) -> bool:
        result = False
        for pattern in patterns:
            negate = pattern.startswith("!")
            glob = pattern.lstrip("!").strip("/")
            if fnmatch.fnmatch(path, glob) or fnmatch.fnmatch(path.split("/")[0], glob):
                result = not negate
        return result

    sources = []
    for _, keyword, args in dockerfile():
        if keyword == "COPY" and "--from=" not in args:
            sources += [part for part in args.split()[:-1] if not part.startswith("--")]
    assert {"pyproject.toml", "uv.lock", "app", "alembic.ini", "alembic"} <= set(sources)
    for source in sources:
        assert (ROOT / source).exists(), f"COPY {source}: no such file"
        assert not ignored(source), f"COPY {source} but .dockerignore excludes it"
    for private in (".venv", ".git", ".taskhub", ".env", "tests", ".uv"):
        assert ignored(private), f".dockerignore lets {private} into the build context"


def test_ecs_task_definitions_are_fargate_tasks_with_cloudwatch_logs() -> None:
    definitions = task_definitions()
    assert "ecs-task-definition.json" in definitions
    for file_name, definition in definitions.items():
        assert definition["networkMode"] == "awsvpc", file_name
        assert definition["requiresCompatibilities"] == ["FARGATE"], file_name
        assert int(definition["cpu"]) > 0, file_name
        assert int(definition["memory"]) > 0, file_name
        for role in ("executionRoleArn", "taskRoleArn"):
            assert definition[role].startswith("arn:aws:iam::"), file_name
        for container in definition["containerDefinitions"]:
            logs = container["logConfiguration"]
            assert logs["logDriver"] == "awslogs", file_name
            assert {"awslogs-group", "awslogs-region", "awslogs-stream-prefix"} <= set(
                logs["options"]
            )
            env = {e["name"]: e["value"] for e in container["environment"]}
            assert env["ENV"] == "prod", file_name


def test_ecs_long_running_containers_have_health_checks() -> None:
    roles = set()
    for where, container in containers():
        roles.add(container["name"])
        if container["name"] in LONG_RUNNING:
            check = container["healthCheck"]
            assert check["command"][0] in ("CMD", "CMD-SHELL"), where
            assert check["interval"] > check["timeout"], where
    assert roles == APP_SERVICES
    api = task_definitions()["ecs-task-definition.json"]["containerDefinitions"][0]
    assert api["name"] == "api"


LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")


def github_anchor(heading: str) -> str:
    text = unicodedata.normalize("NFKC", heading).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(markdown: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", markdown.read_text(), flags=re.S)
    return {github_anchor(h) for h in re.findall(r"^#{1,6}\s+(.+?)\s*#*$", text, flags=re.M)}


def test_required_docs_exist() -> None:
    for name in OWN_DOCS:
        assert (DOCS / name).stat().st_size > 1000, name


def test_every_relative_link_in_docs_resolves() -> None:
    checked = 0
    for doc in sorted(DOCS.glob("*.md")):
        text = re.sub(r"```.*?```", "", doc.read_text(), flags=re.S)
        for target in LINK.findall(text):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):
                continue  # https:, mailto:
            path_part, _, fragment = target.partition("#")
            resolved = (doc.parent / path_part).resolve() if path_part else doc
            assert resolved.exists(), f"{doc.name} links to missing {target}"
            assert resolved.is_relative_to(ROOT), f"{doc.name} links outside the repo: {target}"
            if fragment and resolved.suffix == ".md":
                assert fragment in anchors(resolved), f"{doc.name}: no heading for {target}"
            checked += 1
    assert checked >= 20


#: Upper-case names the docs may show that are not TaskHub settings: the postgres image's variables
#: and the ECS CPU architecture. (`$NAME`, a shell variable of the deploy steps, is not checked.)
DOCUMENTED_OTHER_NAMES = {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB", "X86_64"}
SETTING_LIKE = re.compile(r"(?<![\w./$-])[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+(?![\w.])")


@pytest.mark.parametrize("name", OWN_DOCS)
def test_docs_name_only_variables_that_exist(name: str) -> None:
    known = all_setting_names() | set(LIBRARY_ENV) | DOCUMENTED_OTHER_NAMES
    mentioned = set()
    for span in inline_code((DOCS / name).read_text()):
        mentioned |= set(SETTING_LIKE.findall(span))
    assert mentioned, f"{name} names no setting"
    unknown = sorted(mentioned - known)
    assert not unknown, f"{name} mentions {unknown}, which nothing reads"
