"""Tier 2: the dev stack's proxy under Pulumi's mocks, with the blog's microcache on and off.

What the program sends for the proxy container: the tmpfs map, the memory limit and
reservation grown by the cache, and the rendered nginx.conf it uploads.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.mockstack import ProgramRun, Registration, run_stack_file

MiB = 1024**2
CACHE_PATH = "/var/cache/nginx/microcache/blog"


@pytest.fixture(scope="module")
def dev() -> ProgramRun:
    return run_stack_file("dev")


@pytest.fixture(scope="module")
def uncached() -> ProgramRun:
    apps = {
        "blog": {"kind": "wordpress", "hostname": "blog.localhost", "microcache": {"enabled": False}},
        "cloud": {"kind": "nextcloud", "hostname": "cloud.localhost"},
    }
    return run_stack_file("dev", {"selfhost:apps": apps})


def proxy(run: ProgramRun) -> Registration:
    found = [c for c in run.of_type("docker:index/container:Container") if c.inputs["name"] == "selfhost-dev-proxy"]
    assert len(found) == 1
    return found[0]


def nginx_conf(container: Registration) -> str:
    uploads: list[dict[str, Any]] = container.inputs["uploads"]
    content: str = next(u["content"] for u in uploads if u["file"] == "/etc/nginx/nginx.conf")
    return content


def test_the_proxy_mounts_a_bounded_tmpfs_for_the_blogs_cache(dev: ProgramRun) -> None:
    inputs = proxy(dev).inputs
    assert inputs["tmpfs"] == {CACHE_PATH: f"size={40 * MiB},mode=0700"}
    assert "tmpfs" in proxy(dev).replace_on_changes  # the provider's update would not apply a new size
    # proxyMemory 128Mi and proxyMemoryReservation 32Mi, each + 42Mi: 32Mi cache, 8Mi headroom, 2Mi keys zone.
    assert (int(inputs["memory"]), int(inputs["memorySwap"]), int(inputs["memoryReservation"])) == (170, 170, 74)


def test_the_uploaded_config_caches_the_blog_on_that_tmpfs(dev: ProgramRun) -> None:
    text = nginx_conf(proxy(dev))
    assert f"proxy_cache_path {CACHE_PATH} levels=1:2 keys_zone=microcache_blog:2m max_size=32m min_free=4m" in text
    assert text.count("proxy_cache microcache_blog;") == 1
    assert "proxy_cache_valid 200 301 302 404 5s;" in text
    cloud = text[text.index("server_name cloud.localhost;") :]
    assert "proxy_cache" not in cloud.split("\n    }\n")[0]


def test_turned_off_the_proxy_has_no_tmpfs_and_its_configured_memory(uncached: ProgramRun) -> None:
    inputs = proxy(uncached).inputs
    assert "tmpfs" not in inputs
    assert (int(inputs["memory"]), int(inputs["memoryReservation"])) == (128, 32)
    assert "proxy_cache" not in nginx_conf(proxy(uncached))


def test_no_other_container_gets_a_tmpfs(dev: ProgramRun) -> None:
    containers = dev.of_type("docker:index/container:Container")
    assert [c.inputs["name"] for c in containers if "tmpfs" in c.inputs] == ["selfhost-dev-proxy"]
