"""Tier 1: the rendered nginx.conf, parsed with crossplane, for every TLS and upstream mode.

Routes come from the real WordPress and Nextcloud route functions (as the dev stack's app
map produces them). These tests pin the production text, the ACME module's directives
included (Debian's nginx has no ACME module, so tests/test_nginx_live.py runs everything
else on nginx 1.30 and swaps only those lines for a static certificate).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import crossplane
import pulumi
import pytest

from components.apps.nextcloud.settings import NextcloudApp
from components.apps.registry import proxy_routes
from components.apps.wordpress.settings import WordPressApp
from components.edge.nginx.config import (
    LETSENCRYPT_DIRECTORY,
    LETSENCRYPT_STAGING_DIRECTORY,
    PublicPorts,
    Runtime,
    TlsSettings,
    render_nginx_config,
)
from components.edge.routes import NEXTCLOUD_DAV_REDIRECTS, ProxyRoute
from config.settings import StackSettings
from stack import app_specs

Directive = dict[str, Any]

BLOG, CLOUD = "blog.example.com", "cloud.example.com"
ROUTES = proxy_routes(
    app_specs(
        StackSettings(
            apps={
                "blog": WordPressApp(kind="wordpress", hostname=BLOG),
                "cloud": NextcloudApp(kind="nextcloud", hostname=CLOUD),
            }
        )
    )
)
PROVIDED = TlsSettings(mode="provided")
LETSENCRYPT = TlsSettings(mode="letsencrypt", acme_email="ops@example.com")


def parse(text: str, tmp_path: Path) -> list[Directive]:
    path = tmp_path / "nginx.conf"
    path.write_text(text)
    # The ACME module's directives are unknown to crossplane: check syntax, not contexts.
    payload = crossplane.parse(str(path), single=True, check_ctx=False, check_args=False, strict=False)
    assert payload["status"] == "ok", payload["errors"]
    parsed: list[Directive] = payload["config"][0]["parsed"]
    return parsed


def find(block: Sequence[Directive], name: str) -> list[Directive]:
    return [directive for directive in block if directive["directive"] == name]


def one(block: Sequence[Directive], name: str) -> Directive:
    found = find(block, name)
    assert len(found) == 1, f"{len(found)} {name!r} directives"
    return found[0]


def args(block: Sequence[Directive], name: str) -> list[str]:
    found: list[str] = one(block, name)["args"]
    return found


def entries(block: Sequence[Directive]) -> set[tuple[str, ...]]:
    """A map or geo block's lines (crossplane reads each line's first word as a directive)."""
    return {(d["directive"], *d["args"]) for d in block}


def walk(block: Sequence[Directive]) -> list[Directive]:
    return [item for directive in block for item in (directive, *walk(directive.get("block", [])))]


class Conf:
    """Handy views over one rendered config."""

    def __init__(self, text: str, tmp_path: Path) -> None:
        self.text = text
        self.main = parse(text, tmp_path)
        self.http: list[Directive] = one(self.main, "http")["block"]

    def servers(self) -> list[list[Directive]]:
        return [server["block"] for server in find(self.http, "server")]

    def server(self, name: str, tls: bool | None = None) -> list[Directive]:
        matches = [
            block
            for block in self.servers()
            if name in args(block, "server_name")
            and (tls is None or any("ssl" in listen["args"] for listen in find(block, "listen")) is tls)
        ]
        assert len(matches) == 1, f"{len(matches)} servers for {name}"
        return matches[0]

    def location(self, server: list[Directive], *match: str) -> list[Directive]:
        found = [loc for loc in find(server, "location") if loc["args"] == list(match)]
        assert len(found) == 1, f"{len(found)} locations {match}"
        block: list[Directive] = found[0]["block"]
        return block

    def headers(self, server: list[Directive], directive: str) -> dict[str, str]:
        return {d["args"][0]: " ".join(d["args"][1:]) for d in find(server, directive)}


TLS_OFF = TlsSettings()
DEV_PORTS = PublicPorts(8080, 8443)
PRODUCTION = Runtime()


def render(
    routes: Sequence[ProxyRoute] = ROUTES,
    tls: TlsSettings = TLS_OFF,
    ports: PublicPorts = DEV_PORTS,
    runtime: Runtime = PRODUCTION,
) -> str:
    return render_nginx_config(routes, tls, ports, runtime)


@pytest.fixture
def conf(tmp_path: Path) -> Conf:
    return Conf(render(tls=PROVIDED), tmp_path)


# --- determinism ----------------------------------------------------------------------


@pytest.mark.parametrize("tls", [TlsSettings(), PROVIDED, LETSENCRYPT], ids=lambda tls: tls.mode)
def test_same_input_same_text_whatever_the_route_order(tls: TlsSettings) -> None:
    first = render(tls=tls)
    assert render(tls=tls) == first
    assert render(list(reversed(ROUTES)), tls=tls) == first


def test_servers_are_sorted_by_host_name(tmp_path: Path) -> None:
    routes = [dataclasses.replace(ROUTES[0], app=f"site{n}", server_name=f"s{n}.example.com") for n in (3, 1, 2)]
    names = [args(server, "server_name") for server in Conf(render(routes), tmp_path).servers()][1:]
    assert names == [["s1.example.com"], ["s2.example.com"], ["s3.example.com"]]


# --- routing, resolution, upstreams -------------------------------------------------------


def test_one_server_per_host_name_plus_defaults(tmp_path: Path) -> None:
    plain = Conf(render(), tmp_path)
    assert [args(server, "server_name") for server in plain.servers()] == [["_"], [BLOG], [CLOUD]]
    tls = Conf(render(tls=PROVIDED), tmp_path)
    names = [args(server, "server_name") for server in tls.servers()]
    assert names == [["_"], ["_"], [BLOG, CLOUD], [BLOG], [CLOUD]]  # defaults, redirect, apps


def test_upstreams_are_resolved_through_dockers_dns_with_keepalive(conf: Conf) -> None:
    # Docker's DNS answers with TTL 600; nginx re-resolves every valid + 1 = 2 s instead.
    assert args(conf.http, "resolver") == ["127.0.0.11", "valid=1s", "ipv6=off"]
    # A removed container's address never answers: a request sent there fails after 2 s.
    assert args(conf.http, "proxy_connect_timeout") == ["2s"]
    upstreams = {upstream["args"][0]: upstream["block"] for upstream in find(conf.http, "upstream")}
    assert set(upstreams) == {"app_blog", "app_cloud"}
    blog = upstreams["app_blog"]
    assert args(blog, "server") == ["app-blog:80", "resolve", "max_fails=1", "fail_timeout=2s"]
    assert args(blog, "zone") == ["app_blog", "64k"]
    assert args(blog, "keepalive") == ["16"]
    assert args(blog, "keepalive_timeout") == ["4s"]  # below Apache's 5 s
    assert args(conf.http, "proxy_http_version") == ["1.1"]
    proxied = [d for d in walk(conf.server(BLOG, tls=True)) if d["directive"] == "proxy_pass"]
    assert proxied and all(d["args"] == ["http://app_blog"] for d in proxied)


def nginx_hash_element_bytes(name: str) -> int:
    """What one server name takes in a bucket on 64-bit, plus the bucket's terminating pointer
    (nginx 1.30.4 src/core/ngx_hash.c, NGX_HASH_ELT_SIZE and the check in ngx_hash_init)."""
    pointer = 8
    return pointer + -(-(len(name) + 2) // pointer) * pointer + pointer


def test_the_server_names_hash_holds_the_longest_legal_host_name(tmp_path: Path) -> None:
    longest = ".".join(["a" * 63] * 3 + ["b" * 61])
    assert len(longest) == 253
    routes = [dataclasses.replace(ROUTES[0], server_name=longest), ROUTES[1]]
    conf = Conf(render(routes, tls=PROVIDED), tmp_path)
    [bucket] = args(conf.http, "server_names_hash_bucket_size")
    assert int(bucket) >= nginx_hash_element_bytes(longest) == 272
    assert int(bucket) % 64 == 0  # nginx rounds it up to the cache line anyway
    # The default bucket (the 64-byte cache line) holds names of up to 46 characters.
    assert (nginx_hash_element_bytes("a" * 46), nginx_hash_element_bytes("a" * 47)) == (64, 72)
    assert find(conf.http, "server_names_hash_max_size") == []  # 512 buckets: plenty for a few names


def test_variable_mode_resolves_per_request_without_upstream_blocks(tmp_path: Path) -> None:
    conf = Conf(render(runtime=Runtime(upstream_mode="variable")), tmp_path)
    assert find(conf.http, "upstream") == []
    blog = conf.server(BLOG)
    assert args(blog, "set") == ["$app_blog", "app-blog:80"]
    assert {tuple(d["args"]) for d in walk(blog) if d["directive"] == "proxy_pass"} == {("http://$app_blog",)}


def test_forwarded_headers_are_set_once_per_server_and_never_per_location(conf: Conf) -> None:
    for name, port in ((BLOG, "8443"), (CLOUD, "8443")):
        server = conf.server(name, tls=True)
        assert conf.headers(server, "proxy_set_header") == {
            "Host": "$host:8443",
            "X-Real-IP": "$remote_addr",
            "X-Forwarded-For": "$remote_addr",
            "X-Forwarded-Proto": "$scheme",
            "X-Forwarded-Host": "$host:8443",
            "X-Forwarded-Port": port,
            "Connection": "",  # not a WebSocket route: no Upgrade passed on, keep-alive to the app
        }
        # One add_header/proxy_set_header in a location would drop every inherited one.
        for location in find(server, "location"):
            assert not {"proxy_set_header", "add_header"} & {d["directive"] for d in walk(location["block"])}


def test_default_ports_do_not_appear_in_host_headers(tmp_path: Path) -> None:
    conf = Conf(render(tls=PROVIDED, ports=PublicPorts(80, 443)), tmp_path)
    assert conf.headers(conf.server(BLOG, tls=True), "proxy_set_header")["Host"] == "$host"
    redirect = conf.location(conf.server(BLOG, tls=False), "/")
    assert args(redirect, "return") == ["301", "https://$host$request_uri"]


# --- per-app limits, buffering, well-known ---------------------------------------------


def test_nextcloud_streams_large_bodies_both_ways(conf: Conf) -> None:
    cloud = conf.server(CLOUD, tls=True)
    assert args(cloud, "client_max_body_size") == ["0"]
    assert args(cloud, "proxy_request_buffering") == ["off"]
    assert args(cloud, "proxy_max_temp_file_size") == ["0"]
    assert args(cloud, "proxy_read_timeout") == ["3600s"]
    assert args(cloud, "proxy_send_timeout") == ["3600s"]


def test_wordpress_has_its_upload_limit_and_buffers(conf: Conf) -> None:
    blog = conf.server(BLOG, tls=True)
    assert args(blog, "client_max_body_size") == ["65m"]  # 64 MiB upload + 1 MiB envelope
    assert args(blog, "proxy_request_buffering") == ["on"]
    assert find(blog, "proxy_max_temp_file_size") == []
    assert args(blog, "proxy_read_timeout") == ["120s"]


@pytest.mark.parametrize(("tls", "origin"), [(TlsSettings(), "http://$host:8080"), (PROVIDED, "https://$host:8443")])
def test_dav_well_known_paths_redirect_to_remote_php(tmp_path: Path, tls: TlsSettings, origin: str) -> None:
    conf = Conf(render(tls=tls), tmp_path)
    cloud = conf.server(CLOUD, tls=tls.enabled)
    for service in ("carddav", "caldav"):
        assert args(conf.location(cloud, "=", f"/.well-known/{service}"), "return") == [
            "301",
            f"{origin}/remote.php/dav/",
        ]
    blog = conf.server(BLOG, tls=tls.enabled)
    assert not [loc for loc in find(blog, "location") if "well-known" in " ".join(loc["args"])]


# --- default server, health ------------------------------------------------------------


def test_default_servers_refuse_unknown_names(conf: Conf) -> None:
    http_default, https_default = conf.servers()[:2]
    assert args(http_default, "listen") == ["80", "default_server"]
    assert args(conf.location(http_default, "/"), "return") == ["444"]
    assert args(https_default, "listen") == ["443", "ssl", "default_server"]
    assert args(https_default, "ssl_reject_handshake") == ["on"]
    assert args(https_default, "return") == ["444"]
    assert find(https_default, "ssl_certificate") == []


def test_health_endpoint_answers_loopback_only(conf: Conf) -> None:
    health = conf.location(conf.servers()[0], "=", "/healthz")
    condition = one(health, "if")
    assert condition["args"] == ["$edge_not_loopback"]
    assert args(condition["block"], "return") == ["444"]
    assert args(health, "return") == ["200", "ok\\n"]
    geo = one(conf.http, "geo")
    assert entries(geo["block"]) >= {("default", "1"), ("127.0.0.1/32", "0")}


# --- TLS modes -------------------------------------------------------------------------


def test_tls_off_has_no_tls_at_all(tmp_path: Path) -> None:
    conf = Conf(render(), tmp_path)
    directives = {d["directive"] for d in walk(conf.main)}
    assert not {d for d in directives if d.startswith(("ssl_", "acme_", "http2"))}
    assert "load_module" not in directives
    assert all(args(server, "listen")[0] == "80" for server in conf.servers())
    assert "Strict-Transport-Security" not in conf.text


def test_provided_mode_serves_the_uploaded_certificate_over_http2(conf: Conf) -> None:
    for name in (BLOG, CLOUD):
        server = conf.server(name, tls=True)
        assert args(server, "listen") == ["443", "ssl"]
        assert args(server, "http2") == ["on"]
        assert args(server, "ssl_certificate") == ["/etc/nginx/tls/fullchain.pem"]
        assert args(server, "ssl_certificate_key") == ["/etc/nginx/tls/privkey.pem"]
    assert "acme" not in conf.text


def test_http_redirects_to_https_on_the_public_port(conf: Conf) -> None:
    redirect = conf.server(BLOG, tls=False)
    assert args(redirect, "listen") == ["80"]
    assert args(conf.location(redirect, "/"), "return") == ["301", "https://$host:8443$request_uri"]
    assert find(redirect, "proxy_pass") == []


def test_mozilla_intermediate_tls(conf: Conf) -> None:
    assert args(conf.http, "ssl_protocols") == ["TLSv1.2", "TLSv1.3"]
    assert args(conf.http, "ssl_ciphers") == [
        "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
        "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
    ]
    assert args(conf.http, "ssl_ecdh_curve") == ["X25519:prime256v1:secp384r1"]
    assert args(conf.http, "ssl_prefer_server_ciphers") == ["off"]
    assert args(conf.http, "ssl_session_tickets") == ["off"]
    assert args(conf.http, "ssl_session_timeout") == ["1d"]


@pytest.mark.parametrize("staging", [False, True])
def test_letsencrypt_mode_uses_the_acme_module(tmp_path: Path, staging: bool) -> None:
    tls = dataclasses.replace(LETSENCRYPT, acme_staging=staging)
    conf = Conf(render(tls=tls), tmp_path)
    assert conf.main[0]["directive"] == "load_module"
    assert conf.main[0]["args"] == ["modules/ngx_http_acme_module.so"]
    issuer_name = "letsencrypt_staging" if staging else "letsencrypt"
    issuer = one(conf.http, "acme_issuer")
    assert issuer["args"] == [issuer_name]
    assert args(issuer["block"], "uri") == [LETSENCRYPT_STAGING_DIRECTORY if staging else LETSENCRYPT_DIRECTORY]
    assert args(issuer["block"], "contact") == ["ops@example.com"]
    assert args(issuer["block"], "state_path") == [f"/var/cache/nginx/acme/{issuer_name}"]
    assert find(issuer["block"], "accept_terms_of_service") != []
    assert args(conf.http, "acme_shared_zone") == ["zone=ngx_acme_shared:1m"]
    assert args(conf.http, "resolver")[0] == "127.0.0.11"  # the module resolves the ACME server
    for name in (BLOG, CLOUD):
        server = conf.server(name, tls=True)
        assert args(server, "acme_certificate") == [issuer_name]
        assert args(server, "ssl_certificate") == ["$acme_certificate"]
        assert args(server, "ssl_certificate_key") == ["$acme_certificate_key"]
    # HTTP-01 is answered on port 80 (by the module, before locations); the rest redirects.
    redirect = conf.server(BLOG, tls=False)
    assert args(redirect, "listen") == ["80"]
    assert args(conf.location(redirect, "^~", "/.well-known/acme-challenge/"), "return") == ["404"]
    assert args(conf.location(redirect, "/"), "return")[0] == "301"


# --- hardening -------------------------------------------------------------------------


def test_security_headers_suit_each_app(conf: Conf) -> None:
    blog = conf.headers(conf.server(BLOG, tls=True), "add_header")
    assert blog == {
        "Strict-Transport-Security": "$edge_hsts always",
        "X-Content-Type-Options": "$edge_x_content_type_options always",
        "X-Frame-Options": "$edge_x_frame_options always",
        "Referrer-Policy": "$edge_referrer_policy always",
        "Cache-Control": "$edge_static_cache_blog",
        "X-Cache-Status": "$upstream_cache_status always",
    }
    # Nextcloud sends its own; the proxy adds HSTS only.
    assert conf.headers(conf.server(CLOUD, tls=True), "add_header") == {
        "Strict-Transport-Security": "$edge_hsts always"
    }
    maps = {d["args"][1]: d for d in find(conf.http, "map")}
    assert maps["$edge_hsts"]["args"][0] == "$upstream_http_strict_transport_security"
    assert entries(maps["$edge_hsts"]["block"]) == {("", "max-age=63072000"), ("default", "")}


def test_login_paths_are_rate_limited_with_429(conf: Conf) -> None:
    assert args(conf.http, "limit_req_status") == ["429"]
    zones = {d["args"][1].split(":")[0] for d in find(conf.http, "limit_req_zone")}
    assert zones == {"zone=login_blog", "zone=login_cloud"}
    login_key = next(d for d in find(conf.http, "map") if d["args"][1] == "$login_limit_key")
    assert login_key["args"][0] == "$request_method"
    for server_name, app, path in (
        (BLOG, "blog", "/wp-login.php"),
        (BLOG, "blog", "/xmlrpc.php"),
        (CLOUD, "cloud", "/login"),
        (CLOUD, "cloud", "/index.php/login"),
    ):
        location = conf.location(conf.server(server_name, tls=True), "=", path)
        assert args(location, "limit_req") == [f"zone=login_{app}", "burst=5", "nodelay"]
        assert args(location, "proxy_pass") == [f"http://app_{app}"]


def test_gzip_for_text_types(conf: Conf) -> None:
    assert args(conf.http, "gzip") == ["on"]
    assert set(args(conf.http, "gzip_types")) >= {"text/css", "application/javascript", "application/json"}
    assert args(conf.http, "gzip_proxied") == ["any"]


def test_static_cache_only_for_wordpress_assets_the_app_left_uncached(conf: Conf) -> None:
    static = next(d for d in find(conf.http, "map") if d["args"][1] == "$edge_static_cache_blog")
    assert static["args"][0] == "$upstream_http_cache_control@$uri"
    rows = {d["directive"]: d["args"] for d in static["block"]}
    assert rows.pop("default") == [""]
    [(pattern, [value])] = rows.items()
    assert pattern.startswith("~*^@(?:/wp\\-content/|/wp\\-includes/)")
    assert value == "public, max-age=604800"
    assert not [d for d in find(conf.http, "map") if d["args"][1] == "$edge_static_cache_cloud"]


def test_production_runtime_paths(conf: Conf) -> None:
    assert args(conf.main, "user") == ["nginx"]
    assert args(conf.main, "pid") == ["/run/nginx.pid"]
    assert args(conf.http, "include") == ["/etc/nginx/mime.types"]
    assert args(conf.http, "server_tokens") == ["off"]


# --- every per-kind rule is a route field ----------------------------------------------

CHAT = "chat.example.com"
CHAT_ROUTE = ProxyRoute(
    app="chat",
    kind="rocketchat",
    server_name=CHAT,
    upstream_host="app-chat",
    upstream_port=3000,
    max_body_bytes=101 * 1024**2,
    read_timeout_seconds=3600,
    request_buffering=True,
    websocket=True,
)
SITE_ROUTE = ProxyRoute(
    app="site",
    kind="static",
    server_name="www.example.com",
    upstream_host="app-site",
    upstream_port=80,
    max_body_bytes=1024**2,
    read_timeout_seconds=60,
    request_buffering=True,
)


def test_the_kind_is_only_a_label() -> None:
    relabelled = [dataclasses.replace(route, kind="something-else") for route in ROUTES]
    assert render(relabelled, tls=LETSENCRYPT) == render(tls=LETSENCRYPT)


def test_websocket_routes_speak_http11_to_the_app_and_pass_the_upgrade(tmp_path: Path) -> None:
    conf = Conf(render([*ROUTES, CHAT_ROUTE, SITE_ROUTE], tls=PROVIDED), tmp_path)
    chat = conf.server(CHAT, tls=True)
    assert args(chat, "proxy_http_version") == ["1.1"]
    headers = conf.headers(chat, "proxy_set_header")
    assert (headers["Upgrade"], headers["Connection"]) == ("$http_upgrade", "$connection_upgrade")
    # The idle limit of an upgraded connection: the route's read timeout, both directions.
    assert args(chat, "proxy_read_timeout") == ["3600s"]
    assert args(chat, "proxy_send_timeout") == ["3600s"]
    upgrade = next(d for d in find(conf.http, "map") if d["args"] == ["$http_upgrade", "$connection_upgrade"])
    # A client that asked for no upgrade: no Connection header at all, so the upstream connection stays alive.
    assert entries(upgrade["block"]) == {("default", "upgrade"), ("", "")}
    assert args(conf.http, "proxy_http_version") == ["1.1"]
    for name in (BLOG, CLOUD, "www.example.com"):
        other = conf.server(name, tls=True)
        assert find(other, "proxy_http_version") == []  # inherited from http
        # Only WebSocket routes pass a client's Upgrade; the others send no Connection header.
        plain = conf.headers(other, "proxy_set_header")
        assert "Upgrade" not in plain and plain["Connection"] == ""


def test_a_route_sets_its_upstream_idle_time(tmp_path: Path) -> None:
    node = dataclasses.replace(CHAT_ROUTE, upstream_idle_seconds=3)
    upstreams = {u["args"][0]: u["block"] for u in find(Conf(render([*ROUTES, node]), tmp_path).http, "upstream")}
    assert args(upstreams["app_chat"], "keepalive_timeout") == ["3s"]
    assert args(upstreams["app_chat"], "server") == ["app-chat:3000", "resolve", "max_fails=1", "fail_timeout=2s"]
    assert args(upstreams["app_blog"], "keepalive_timeout") == ["4s"]


def test_redirects_are_route_data(tmp_path: Path) -> None:
    webfinger = dataclasses.replace(SITE_ROUTE, redirects=(("/.well-known/webfinger", "/webfinger"), ("/old", "/new/")))
    conf = Conf(render([*ROUTES, webfinger]), tmp_path)
    site = conf.server("www.example.com")
    assert args(conf.location(site, "=", "/.well-known/webfinger"), "return") == ["301", "http://$host:8080/webfinger"]
    assert args(conf.location(site, "=", "/old"), "return") == ["301", "http://$host:8080/new/"]
    # dav_redirects is Nextcloud's pair, spelled as data.
    assert ROUTES[1].dav_redirects and ROUTES[1].all_redirects == NEXTCLOUD_DAV_REDIRECTS
    spelled = dataclasses.replace(ROUTES[1], dav_redirects=False, redirects=NEXTCLOUD_DAV_REDIRECTS)
    assert render([ROUTES[0], spelled]) == render()


def test_a_static_site_route_is_a_plain_proxy(tmp_path: Path) -> None:
    """What a static site's own nginx sends (gzip, cache headers) passes untouched: no lifetime
    of the edge's, no second compression (nginx's gzip skips an encoded response)."""
    conf = Conf(render([*ROUTES, SITE_ROUTE]), tmp_path)
    site = conf.server("www.example.com")
    assert not [d for d in find(conf.http, "map") if d["args"][1] == "$edge_static_cache_site"]
    assert "Cache-Control" not in conf.headers(site, "add_header")
    assert [loc["args"] for loc in find(site, "location")] == [["/"]]
    assert find(site, "proxy_max_temp_file_size") == [] and args(site, "client_max_body_size") == ["1m"]


# --- bad input --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"server_name": "blog.example.com; return 200"}, "selfhost:apps.blog.hostname"),
        ({"upstream_host": "app blog"}, "selfhost:apps.blog"),
        ({"login_paths": ("/wp-login.php {",)}, "selfhost:apps.blog"),
        ({"max_body_bytes": -1}, "selfhost:apps.blog.uploadLimit"),
        ({"upstream_idle_seconds": 0}, "selfhost:apps.blog: upstream idle time 0 s"),
        ({"redirects": (("/a", "https://evil.example/"),)}, "selfhost:apps.blog: 'https://evil.example/'"),
        ({"redirects": (("/a b", "/c"),)}, "selfhost:apps.blog: '/a b'"),
        ({"redirects": (("/wp-login.php", "/login"),)}, "selfhost:apps.blog: /wp-login.php: a path may be"),
        ({"redirects": (("/x", "/y"), ("/x", "/z"))}, "selfhost:apps.blog: /x: a path may be"),
    ],
)
def test_bad_routes_are_refused_naming_the_key(change: dict[str, Any], key: str) -> None:
    routes = [dataclasses.replace(ROUTES[0], **change), ROUTES[1]]
    with pytest.raises(pulumi.RunError, match=f"^{key}"):
        render(routes)


def test_duplicate_host_names_are_refused() -> None:
    twin = dataclasses.replace(ROUTES[1], server_name=BLOG)
    with pytest.raises(pulumi.RunError, match=r"^selfhost:apps.cloud.hostname: 'blog.example.com' is also"):
        render([ROUTES[0], twin])


def test_no_routes_is_refused() -> None:
    with pytest.raises(pulumi.RunError, match=r"^selfhost:apps"):
        render([])


def test_letsencrypt_without_an_email_is_refused() -> None:
    with pytest.raises(pulumi.RunError, match=r"^selfhost:acmeEmail"):
        render(tls=TlsSettings(mode="letsencrypt", acme_email="not-an-address"))
