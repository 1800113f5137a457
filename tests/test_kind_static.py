"""Tier 1: the static kind's settings (the site directory, read at validation) and its pure spec.

What a change of one file does, which paths are refused and why, and what the container gets:
plain data, no Pulumi, no mocks. tests/test_static_nginx_live.py runs the rendered config.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from components.apps.spec import AppSpec, File, Site
from components.apps.static import KIND
from components.apps.static.settings import PROJECT_ROOT_CONTEXT, StaticApp
from components.apps.static.site import MAX_SITE_BYTES, MAX_SITE_FILES
from components.apps.static.spec import (
    MAX_BODY_BYTES,
    MTIME_BASE,
    MTIME_SPAN,
    MTIMES_SCRIPT_PATH,
    NGINX_CONF_PATH,
    SITE_ROOT,
    content_mtime,
    expected_etag,
    render_nginx_conf,
    spec,
)
from components.core import images
from tests import static_bad_inputs

REPO = Path(__file__).resolve().parents[1]
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000") + b"\x00\xff" * 8
SITE = Site(
    app="www",
    hostname="www.example.com",
    public_url="https://www.example.com",
    scheme="https",
    public_host="www.example.com",
    trusted_proxies="172.30.0.0/24",
)


def make_site(project: Path, files: dict[str, bytes | str], where: str = "sites/www") -> Path:
    site = project / where
    for name, content in files.items():
        path = site / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    return site


def settings(project: Path, **options: Any) -> StaticApp:
    raw = {"kind": "static", "hostname": "www.example.com", "path": "sites/www", **options}
    return StaticApp.model_validate(raw, by_alias=True, by_name=False, context={PROJECT_ROOT_CONTEXT: project})


def app_spec(project: Path, **options: Any) -> AppSpec:
    return spec("www", settings(project, **options), SITE)


def uploads(app: AppSpec) -> dict[str, File]:
    (service,) = app.services
    files = {file.path: file for file in service.files if isinstance(file, File)}
    assert len(files) == len(service.files), "a static site has no secret files"
    return files


def refusal(project: Path, **options: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        settings(project, **options)
    (error,) = caught.value.errors()
    loc = ".".join(str(part) for part in error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    # Field errors carry their key in loc; the directory check names it first (config/loading.py
    # turns both into ``selfhost:apps.<name>.path: ...``).
    return f"{loc}: {message}" if loc else message


@pytest.fixture
def project(tmp_path: Path) -> Path:
    make_site(
        tmp_path,
        {
            "index.html": "<!doctype html><title>www</title><link rel=stylesheet href=/css/site.css>\n",
            "css/site.css": "body { margin: 0 }\n",
            "img/dot.png": PNG,
            "docs/index.html": "<p>docs</p>\n",
        },
    )
    return tmp_path


# --- settings ---------------------------------------------------------------------------------


def test_the_directory_is_read_at_validation_sorted_by_path(project: Path) -> None:
    app = settings(project)
    assert [file.path for file in app.files] == ["css/site.css", "docs/index.html", "img/dot.png", "index.html"]
    assert dict((f.path, f.data) for f in app.files)["img/dot.png"] == PNG


def test_config_keys_are_camel_case_and_defaults_are_small(project: Path) -> None:
    app = settings(project, cacheSeconds=60, memory={"app": "48Mi"}, memoryReservation={"app": "40Mi"})
    assert (app.cache_seconds, app.memory.app, app.reserved.app) == (60, 48 * 1024**2, 40 * 1024**2)
    default = settings(project)
    assert (default.memory.app, default.reserved.app, default.cache_seconds) == (64 * 1024**2, 32 * 1024**2, 3600)


def test_an_unset_reservation_never_exceeds_a_lowered_limit(project: Path) -> None:
    # The default reservation (32Mi) is the smallest limit allowed too; a limit above it keeps it.
    assert settings(project, memory={"app": "32Mi"}).reserved.app == 32 * 1024**2
    assert settings(project, memory={"app": "256Mi"}).reserved.app == 32 * 1024**2


def test_unknown_keys_are_refused(project: Path) -> None:
    with pytest.raises(ValidationError) as caught:
        settings(project, root="x")
    assert [error["type"] for error in caught.value.errors()] == ["extra_forbidden"]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/etc", "path: '/etc' is an absolute path: write it relative to the project directory"),
        ("sites/../..", "path: 'sites/../..' climbs out with '..'"),
        ("../www", "path: '../www' climbs out with '..'"),
        ("", "path: is empty"),
        ("sites/www\n", "path: 'sites/www\\n' holds a control character"),
        ("sites\\www", "path: 'sites\\\\www' holds a control character or a backslash"),
        ("sites/nothing", "path: 'sites/nothing' does not exist (relative to the project directory"),
        ("sites/www/index.html", "path: 'sites/www/index.html' is not a directory"),
    ],
)
def test_bad_paths_are_refused_naming_the_value(project: Path, path: str, expected: str) -> None:
    assert refusal(project, path=path).startswith(expected)


def test_a_site_without_index_html_is_refused(tmp_path: Path) -> None:
    make_site(tmp_path, {"home.html": "<p>hi</p>"})
    assert refusal(tmp_path) == "path: 'sites/www' has no index.html at its top: the site's home page is /index.html"


def test_a_link_of_the_site_directory_out_of_the_project_is_refused(tmp_path: Path) -> None:
    outside = make_site(tmp_path / "outside", {"index.html": "x"}, where="site")
    project = tmp_path / "project"
    (project / "sites").mkdir(parents=True)
    (project / "sites" / "www").symlink_to(outside)
    message = refusal(project)
    assert message.startswith(f"path: 'sites/www' leads to {outside}, outside the project directory")


def test_a_file_link_out_of_the_site_is_refused_even_inside_the_project(project: Path) -> None:
    (project / "Pulumi.prod.yaml").write_text("secret: x\n")
    (project / "sites" / "www" / "config.yaml").symlink_to(project / "Pulumi.prod.yaml")
    assert refusal(project) == (
        f"path: 'sites/www/config.yaml' is a symbolic link to {project / 'Pulumi.prod.yaml'}, "
        "outside the site 'sites/www'"
    )


def test_a_file_link_inside_the_site_is_served_as_a_copy(project: Path) -> None:
    (project / "sites" / "www" / "style.css").symlink_to("css/site.css")
    files = dict((f.path, f.data) for f in settings(project).files)
    assert files["style.css"] == files["css/site.css"] == b"body { margin: 0 }\n"


def test_a_directory_link_is_refused(project: Path) -> None:
    (project / "sites" / "www" / "loop").symlink_to(".", target_is_directory=True)
    assert (
        refusal(project)
        == "path: 'sites/www/loop' is a symbolic link to a directory: link files, or move the directory"
    )


@pytest.mark.parametrize("name", ["index.php", "lib/CONFIG.PHP", "x.phtml", "tool.phar"])
def test_php_is_refused(project: Path, name: str) -> None:
    make_site(project, {name: "<?php echo 'hi';"})
    assert refusal(project) == (
        f"path: 'sites/www/{name}' is a PHP file: a static site runs no PHP and does not hand out its source; "
        "remove it, or use the wordpress or container kind for PHP"
    )


def test_a_file_name_with_a_line_break_is_refused(project: Path) -> None:
    make_site(project, {"a\nb.html": "x"})
    assert refusal(project) == (
        "path: 'sites/www/a\\nb.html': a file name with a control character (a line break?) cannot be a URL"
    )


def test_an_empty_file_is_refused_as_the_provider_would_fail_on_it(project: Path) -> None:
    make_site(project, {"robots.txt": ""})
    assert refusal(project) == (
        "path: 'sites/www/robots.txt' is empty, and the Docker provider cannot upload an empty file; "
        "give it content or remove it"
    )


def test_a_fifo_is_refused(project: Path) -> None:
    os.mkfifo(project / "sites" / "www" / "pipe")
    assert refusal(project) == "path: 'sites/www/pipe' is not a regular file (a socket, pipe or device)"


def test_the_total_size_is_bounded(project: Path) -> None:
    make_site(project, {"big/a.bin": b"\0" * (MAX_SITE_BYTES // 2), "big/b.bin": b"\0" * (MAX_SITE_BYTES // 2)})
    message = refusal(project)
    assert message.startswith("path: 'sites/www' holds more than 8Mi (reached at 'sites/www/big/b.bin')")
    assert "kind container" in message


def test_the_file_count_is_bounded(project: Path) -> None:
    make_site(project, {f"many/{n:04}.txt": "x" for n in range(MAX_SITE_FILES)})
    assert refusal(project).startswith(f"path: 'sites/www' holds more than {MAX_SITE_FILES} files")


def test_hidden_files_are_left_out_but_well_known(project: Path) -> None:
    make_site(project, {".git/config": "[core]", ".DS_Store": b"\0", ".well-known/security.txt": "Contact: x"})
    names = [file.path for file in settings(project).files]
    assert ".well-known/security.txt" in names
    assert not [name for name in names if name.startswith((".git", ".DS"))]


@pytest.mark.parametrize("value", [-1, 365 * 24 * 3600 + 1])
def test_cache_seconds_are_bounded(project: Path, value: int) -> None:
    assert refusal(project, cacheSeconds=value).startswith(f"cacheSeconds: {value} is not a cache lifetime: use 0 to")


# --- spec -------------------------------------------------------------------------------------


def test_one_nginx_container_on_the_edge_and_nothing_else(project: Path) -> None:
    app = app_spec(project)
    (service,) = app.services
    assert (app.kind, app.backing, app.volumes, app.secrets, app.upgrade_guard) == ("static", (), (), (), None)
    assert (service.role, service.image, service.edge, service.backend) == ("app", images.NGINX, "routed", False)
    assert (service.memory, service.memory_reservation) == (64 * 1024**2, 32 * 1024**2)
    assert (service.env, service.mounts, service.command, service.entrypoint) == ({}, (), None, None)
    assert service.user is None  # root: the entrypoint sets file times, the master drops workers to uid 101


def test_the_files_land_under_the_site_root_root_owned_and_world_readable(project: Path) -> None:
    files = uploads(app_spec(project))
    site = {path: file for path, file in files.items() if path.startswith(SITE_ROOT + "/")}
    assert sorted(site) == [
        f"{SITE_ROOT}/{name}" for name in ("css/site.css", "docs/index.html", "img/dot.png", "index.html")
    ]
    assert {(file.owner, file.group, file.mode) for file in site.values()} == {(0, 0, "0444")}
    assert site[f"{SITE_ROOT}/css/site.css"] == File(path=f"{SITE_ROOT}/css/site.css", content="body { margin: 0 }\n")
    png = site[f"{SITE_ROOT}/img/dot.png"]
    assert (png.content, png.content_base64) == ("", base64.b64encode(PNG).decode())
    assert files[NGINX_CONF_PATH].mode == "0444"
    assert files[MTIMES_SCRIPT_PATH].mode == "0555"  # the entrypoint runs only executable scripts


def test_text_with_a_nul_byte_goes_as_base64(project: Path) -> None:
    make_site(project, {"data.txt": "a\0b"})
    file = uploads(app_spec(project))[f"{SITE_ROOT}/data.txt"]
    assert file.content_base64 == base64.b64encode(b"a\0b").decode()


def test_the_same_directory_gives_the_same_spec(project: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    copy = tmp_path_factory.mktemp("copy")
    shutil.copytree(project / "sites", copy / "sites")
    # Other modification times, another order of creation: nothing of it may show.
    for path in (copy / "sites").rglob("*"):
        os.utime(path, (1, 1))
    first, second = app_spec(project), app_spec(copy)
    assert first == second
    assert repr(first) == repr(second)
    paths = [f.path for f in first.services[0].files]
    assert paths == [NGINX_CONF_PATH, MTIMES_SCRIPT_PATH, *sorted(paths[2:])]


def test_a_change_of_one_file_changes_only_its_upload(project: Path) -> None:
    before = uploads(app_spec(project))
    (project / "sites" / "www" / "css" / "site.css").write_text("body { margin: 1rem }\n")
    after = uploads(app_spec(project))
    assert before.keys() == after.keys()
    assert [path for path in before if before[path] != after[path]] == [f"{SITE_ROOT}/css/site.css"]


def test_a_new_file_adds_only_its_upload(project: Path) -> None:
    before = uploads(app_spec(project))
    make_site(project, {"js/app.js": "console.log(1)\n"})
    after = uploads(app_spec(project))
    assert set(after) - set(before) == {f"{SITE_ROOT}/js/app.js"}
    assert all(after[path] == file for path, file in before.items())


def test_a_404_page_changes_the_config(project: Path) -> None:
    assert "error_page 404 /404.html;" not in uploads(app_spec(project))[NGINX_CONF_PATH].content
    make_site(project, {"404.html": "<p>not here</p>"})
    assert "error_page 404 /404.html;" in uploads(app_spec(project))[NGINX_CONF_PATH].content


def test_utf8_is_declared_only_when_every_text_file_is_utf8(project: Path) -> None:
    make_site(project, {"about.html": "<p>Grüße</p>\n"})
    assert "charset utf-8;" in uploads(app_spec(project))[NGINX_CONF_PATH].content
    make_site(project, {"old.html": "<meta charset=iso-8859-1><p>Grüße</p>\n".encode("latin-1")})
    files = uploads(app_spec(project))
    assert "charset" not in files[NGINX_CONF_PATH].content
    latin = files[f"{SITE_ROOT}/old.html"]
    assert base64.b64decode(latin.content_base64 or "") == "<meta charset=iso-8859-1><p>Grüße</p>\n".encode("latin-1")


def test_binary_files_do_not_count_against_utf8(project: Path) -> None:
    assert "charset utf-8;" in uploads(app_spec(project))[NGINX_CONF_PATH].content  # img/dot.png is not UTF-8


def test_the_route_takes_no_bodies_and_no_logins(project: Path) -> None:
    route = app_spec(project).route
    assert (route.app, route.kind, route.server_name) == ("www", "static", "www.example.com")
    assert (route.upstream_host, route.upstream_port) == ("app-www", 80)
    assert (route.max_body_bytes, route.login_paths, route.static_cache_paths) == (MAX_BODY_BYTES, (), ())
    assert (route.dav_redirects, route.websocket, route.app_sets_security_headers) == (False, False, False)


def test_the_healthcheck_asks_for_the_home_page_with_the_images_curl(project: Path) -> None:
    check = app_spec(project).services[0].healthcheck
    assert list(check.test) == [
        "CMD", "curl", "--fail", "--silent", "--show-error", "--output", "/dev/null", "http://127.0.0.1/",
    ]  # fmt: skip


def test_the_config_carries_the_cache_lifetime_and_no_php_handler(project: Path) -> None:
    conf = uploads(app_spec(project, cacheSeconds=600))[NGINX_CONF_PATH].content
    assert '"public, max-age=600"' in conf
    assert "fastcgi_pass" not in conf and "autoindex off;" in conf
    assert f"root {SITE_ROOT};" in conf and "listen 80 default_server;" in conf
    assert re.search(r"^worker_processes 1;$", conf, re.M)


def test_the_uploaded_config_is_the_rendered_template(project: Path) -> None:
    conf = uploads(app_spec(project))[NGINX_CONF_PATH].content
    assert conf == render_nginx_conf("www", 3600, False, True)
    assert "\n\n\n" not in conf


def test_derived_modification_times_and_etags() -> None:
    # sha256("") = e3b0c442...: 0xe3b0c442 % 2**29 = 0x3b0c442 -> 946684800 + 61916226
    assert content_mtime(b"") == MTIME_BASE + 0xE3B0C442 % MTIME_SPAN == 1008601026
    assert expected_etag(b"") == f'"{1008601026:x}-0"'
    assert MTIME_BASE <= content_mtime(b"abc") < MTIME_BASE + MTIME_SPAN


def test_the_kind_and_its_example() -> None:
    assert (KIND.name, KIND.settings, KIND.component) == ("static", StaticApp, "selfhost:index:StaticSite")
    example = KIND.settings.model_validate(
        dict(KIND.example), by_alias=True, by_name=False, context={PROJECT_ROOT_CONTEXT: REPO}
    )
    assert isinstance(example, StaticApp)
    assert "index.html" in [file.path for file in example.files]
    assert KIND.spec("www", example, SITE).kind == "static"


@pytest.mark.parametrize(
    ("key", "raw", "allowed"),
    [(key, apps["www"], allowed) for _, apps, key, allowed in static_bad_inputs.CASES],
    ids=[case[0] for case in static_bad_inputs.CASES],
)
def test_the_cases_for_the_bad_input_catalogue_are_refused(key: str, raw: dict[str, Any], allowed: str) -> None:
    with pytest.raises(ValidationError) as caught:
        StaticApp.model_validate(raw, by_alias=True, by_name=False, context={PROJECT_ROOT_CONTEXT: REPO})
    (error,) = caught.value.errors()
    loc = ".".join(str(part) for part in error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    named = f"{loc}: {message}" if loc else message
    assert named.startswith(key.removeprefix("apps.www.") + ": ")
    assert allowed.lower() in named.lower()
