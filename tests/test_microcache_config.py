"""Tier 1: the WordPress microcache as plain data and as rendered nginx directives.

Sizes and memory (``components/edge/routes.py`` ``Microcache``), the settings that make it, the
proxy container's tmpfs map, and the directives the renderer writes (parsed with crossplane).
tests/test_microcache_live.py runs the same config on nginx 1.30.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import crossplane
import pulumi
import pytest

from components.apps.nextcloud import spec as nextcloud
from components.apps.nextcloud.settings import NextcloudApp
from components.apps.wordpress import spec as wordpress
from components.apps.wordpress.settings import WordPressApp, WordPressMicrocache
from components.edge.nginx.config import (
    MICROCACHE_INACTIVE_SECONDS,
    PRODUCTION,
    microcache_memory_bytes,
    microcache_tmpfs,
    render_nginx_config,
)
from components.edge.routes import Microcache, ProxyRoute

MiB = 1024**2
Directive = dict[str, Any]


def blog(**microcache: object) -> ProxyRoute:
    settings = WordPressMicrocache.model_validate(microcache)
    return wordpress.route("blog", WordPressApp(kind="wordpress", hostname="blog.example.com", microcache=settings))


CLOUD = nextcloud.route("cloud", NextcloudApp(kind="nextcloud", hostname="cloud.example.com"))


def parsed(routes: list[ProxyRoute], tmp_path: Path) -> list[Directive]:
    path = tmp_path / "nginx.conf"
    path.write_text(render_nginx_config(routes))
    payload = crossplane.parse(str(path), single=True, check_ctx=False, check_args=False, strict=False)
    assert payload["status"] == "ok", payload["errors"]
    http: list[Directive] = next(d for d in payload["config"][0]["parsed"] if d["directive"] == "http")["block"]
    return http


def server(http: list[Directive], name: str) -> list[Directive]:
    block: list[Directive] = next(
        d["block"] for d in http if d["directive"] == "server" and name in d["block"][1]["args"] + d["block"][0]["args"]
    )
    return block


def directives(block: list[Directive], prefix: str) -> dict[str, list[str]]:
    return {d["directive"]: d["args"] for d in block if d["directive"].startswith(prefix)}


def maps(http: list[Directive]) -> dict[str, dict[str, str]]:
    return {
        d["args"][1]: {line["directive"]: line["args"][0] for line in d["block"]}
        for d in http
        if d["directive"] == "map"
    }


# --- sizes and memory ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "headroom", "keys_zone"),
    [
        (32 * MiB, 8 * MiB, 2 * MiB),  # 40Mi tmpfs = 10240 pages: 2 x 8000 keys
        (1 * MiB, 4 * MiB, 1 * MiB),  # the 4Mi floor
        (33 * MiB, 9 * MiB, 2 * MiB),  # a quarter rounded up to whole MiB: Docker counts memory in MiB
        (1024 * MiB, 256 * MiB, 41 * MiB),  # 1280Mi = 327680 pages
    ],
)
def test_the_cache_costs_its_tmpfs_and_keys_zone(size: int, headroom: int, keys_zone: int) -> None:
    cache = Microcache(seconds=5, max_bytes=size)
    assert (cache.headroom_bytes, cache.tmpfs_bytes, cache.keys_zone_bytes) == (headroom, size + headroom, keys_zone)
    assert cache.memory_bytes == size + headroom + keys_zone
    assert cache.memory_bytes % MiB == 0


def test_wordpress_caches_by_default_and_only_wordpress() -> None:
    route = blog()
    assert route.microcache == Microcache(seconds=5, max_bytes=32 * MiB, bypass_feeds=False)
    assert CLOUD.microcache is None
    assert blog(enabled=False).microcache is None
    settings = WordPressApp(kind="wordpress", hostname="blog.example.com")
    assert settings.edge_memory_bytes == 42 * MiB


def test_the_proxy_container_gets_one_bounded_tmpfs_per_cached_app() -> None:
    routes = [
        blog(size="64Mi"),
        CLOUD,
        wordpress.route("shop", WordPressApp(kind="wordpress", hostname="s.example.com")),
    ]
    assert microcache_tmpfs(routes) == {
        "/var/cache/nginx/microcache/blog": f"size={80 * MiB},mode=0700",
        "/var/cache/nginx/microcache/shop": f"size={40 * MiB},mode=0700",
    }
    assert microcache_memory_bytes(routes) == (80 + 3) * MiB + 42 * MiB
    assert microcache_tmpfs([CLOUD]) == {} and microcache_memory_bytes([CLOUD]) == 0


# --- rendering -----------------------------------------------------------------------------


def test_each_cached_app_has_its_own_bounded_zone(tmp_path: Path) -> None:
    http = parsed([blog(size="64Mi"), CLOUD], tmp_path)
    paths = [d["args"] for d in http if d["directive"] == "proxy_cache_path"]
    assert paths == [
        [
            f"{PRODUCTION.microcache_dir}/blog",
            "levels=1:2",
            "keys_zone=microcache_blog:3m",
            "max_size=64m",
            "min_free=8m",
            f"inactive={MICROCACHE_INACTIVE_SECONDS}s",
            "use_temp_path=off",
        ]
    ]


def test_the_wordpress_server_caches_with_lock_stale_and_bypass(tmp_path: Path) -> None:
    http = parsed([blog(seconds=3), CLOUD], tmp_path)
    cache = directives(server(http, "blog.example.com"), "proxy_cache")
    assert cache == {
        "proxy_cache": ["microcache_blog"],
        "proxy_cache_key": ["$scheme://$host$request_uri"],
        "proxy_cache_valid": ["200", "301", "302", "404", "3s"],
        "proxy_cache_lock": ["on"],
        "proxy_cache_lock_timeout": ["5s"],
        "proxy_cache_lock_age": ["5s"],
        "proxy_cache_use_stale": ["updating", "error", "timeout", "http_500", "http_502", "http_503", "http_504"],
        "proxy_cache_background_update": ["on"],
        "proxy_cache_bypass": [
            "$microcache_skip_method",
            "$microcache_skip_path",
            "$microcache_skip_cookie",
            "$microcache_skip_query",
            "$http_authorization",
        ],
    }
    blog_server = server(http, "blog.example.com")
    no_cache = next(d["args"] for d in blog_server if d["directive"] == "proxy_no_cache")
    # Everything that bypasses is also never stored, and so is what the app marks private or sets a cookie in.
    assert no_cache == [*cache["proxy_cache_bypass"], "$microcache_app_private", "$upstream_http_set_cookie"]
    ignored = next(d["args"] for d in blog_server if d["directive"] == "proxy_ignore_headers")
    assert ignored == ["Cache-Control", "Expires", "X-Accel-Expires"]  # not Set-Cookie, not Vary
    headers = {d["args"][0]: d["args"][1:] for d in blog_server if d["directive"] == "add_header"}
    assert headers["X-Cache-Status"] == ["$upstream_cache_status", "always"]
    # Nextcloud's server has no cache at all.
    assert not directives(server(http, "cloud.example.com"), "proxy_cache")
    assert "X-Cache-Status" not in render_nginx_config([CLOUD])


def test_the_bypass_maps_name_every_wordpress_rule(tmp_path: Path) -> None:
    found = maps(parsed([blog(bypassFeeds=True)], tmp_path))
    assert found["$microcache_skip_method"] == {"GET": "", "HEAD": "", "default": "1"}
    assert found["$microcache_skip_query"] == {"default": "", "~\\?": "1"}
    assert set(found["$microcache_skip_path"]) == {
        "default",
        "~*(^|/)wp-admin(/|$)",
        "~*(^|/)wp-json(/|$)",
        "~*/wp-[^/]*\\.php$",
        "~*/xmlrpc\\.php$",
        "~*^/wp-(content|includes)/",
    }
    assert set(found["$microcache_skip_cookie"]) == {
        "default",
        "~*(^|;)\\s*wordpress_logged_in_",
        "~*(^|;)\\s*wordpress_(?!test_cookie=)",
        "~*(^|;)\\s*comment_author_",
        "~*(^|;)\\s*wp-postpass_",
        "~*(^|;)\\s*woocommerce_items_in_cart=",
        "~*(^|;)\\s*woocommerce_cart_hash=",
        "~*(^|;)\\s*wp_woocommerce_session_",
    }
    assert "$microcache_feed" in found


def test_feeds_bypass_only_where_configured(tmp_path: Path) -> None:
    shop = wordpress.route(
        "shop",
        WordPressApp(kind="wordpress", hostname="shop.example.com", microcache=WordPressMicrocache(bypass_feeds=True)),
    )
    http = parsed([blog(), shop], tmp_path)
    bypass = {
        name: next(d["args"] for d in server(http, f"{name}.example.com") if d["directive"] == "proxy_cache_bypass")
        for name in ("blog", "shop")
    }
    assert "$microcache_feed" not in bypass["blog"] and "$microcache_feed" in bypass["shop"]
    assert "$microcache_feed" not in maps(parsed([blog()], tmp_path))


def test_without_a_cached_app_nothing_of_the_cache_is_rendered() -> None:
    text = render_nginx_config([blog(enabled=False), CLOUD])
    assert "microcache" not in text and "proxy_cache" not in text and "X-Cache-Status" not in text


@pytest.mark.parametrize("cache", [Microcache(seconds=0, max_bytes=MiB), Microcache(seconds=5, max_bytes=1024)])
def test_a_route_with_an_impossible_cache_is_refused(cache: Microcache) -> None:
    route = ProxyRoute(
        app="blog",
        kind="wordpress",
        server_name="blog.example.com",
        upstream_host="app-blog",
        upstream_port=80,
        max_body_bytes=0,
        read_timeout_seconds=60,
        request_buffering=True,
        microcache=cache,
    )
    with pytest.raises(pulumi.RunError, match=r"selfhost:apps\.blog\.microcache"):
        render_nginx_config([route])
