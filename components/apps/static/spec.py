"""The static kind as a pure function: a directory's files, uploaded into an nginx:1.30 container.

Facts from the image (nginx/docker-nginx, stable/debian, 1.30.0, commit 0d7f438):
- ``nginx`` is uid/gid 101 (Dockerfile ``useradd --uid 101``): the uploaded nginx.conf runs the
  workers as that user, the master as root (no container user); ``curl`` is installed (the
  Dockerfile's ``apt-get install ... curl``; the healthcheck uses it);
- ``/docker-entrypoint.sh`` runs every executable ``/docker-entrypoint.d/*.sh`` (as the container's
  user, root here) when the command is ``nginx``, which it is by default (``CMD ["nginx", "-g",
  "daemon off;"]``, ``STOPSIGNAL SIGQUIT``: a graceful stop);
- ``10-listen-on-ipv6-by-default.sh`` edits only an unmodified conf.d/default.conf and
  ``20-envsubst-on-templates.sh`` acts only on /etc/nginx/templates: an uploaded
  /etc/nginx/nginx.conf is left as it is, and the image's default server is then not included.

Uploads (kreuzwerker/terraform-provider-docker internal/provider/resource_docker_container_funcs.go,
read in v4.6.0's successor v0.0.0-20260916201441-96d331c98ff4 from the Go module proxy, the same
since #259): each is a one-file tar with ``ModTime: time.Now()`` and uid/gid 0 when no owner is
given, copied to ``/`` of the created container; an empty content is refused. The engine makes
missing parent directories root-owned, 0755 (tests/test_static_docker_live.py). Files stay
root-owned and world-readable (0444): the workers (uid 101) read them, nothing in the container
can change them. An upload's content change replaces the container: a change of one file
replaces this app's one container and nothing else (the edge's route does not change).
"""

from __future__ import annotations

import base64
import hashlib

from components.apps.spec import EDGE_PORT, AppSpec, File, Service, Site, edge_alias
from components.apps.static.settings import StaticApp
from components.apps.static.site import SiteFile
from components.core import images
from components.core.container import Healthcheck
from components.core.templating import templates_of
from components.edge.routes import ProxyRoute

KIND = "static"
ROLE = "app"
SITE_ROOT = "/srv/site"
"""Where the files go: a directory of its own, so none of the image's pages (50x.html) is served."""
NGINX_CONF_PATH = "/etc/nginx/nginx.conf"
MTIMES_SCRIPT_PATH = "/docker-entrypoint.d/40-selfhost-site-mtimes.sh"
MTIME_BASE = 946684800
"""2000-01-01T00:00:00Z: derived modification times lie between it and 2017 (``MTIME_SPAN``)."""
MTIME_SPAN = 2**29
MAX_BODY_BYTES = 4096
"""The edge's body limit: a static site takes no uploads, only GET and HEAD."""
READ_TIMEOUT_SECONDS = 30
NOT_FOUND_PAGE = "404.html"
"""When the site has one at its top, it answers every 404."""

_ENV = templates_of(__file__)


def render_nginx_conf(app_name: str, cache_seconds: int, custom_404: bool, utf8: bool) -> str:
    """The whole nginx.conf, with the container's paths: the tests run it as it is."""
    return _ENV.get_template("nginx.conf.j2").render(
        app=app_name,
        site_root=SITE_ROOT,
        port=EDGE_PORT,
        cache_seconds=cache_seconds,
        custom_404=custom_404,
        utf8=utf8,
        max_body=f"{MAX_BODY_BYTES // 1024}k",
    )


def render_mtimes_script() -> str:
    return _ENV.get_template("site-mtimes.sh.j2").render(
        site_root=SITE_ROOT, mtime_base=MTIME_BASE, mtime_span=MTIME_SPAN
    )


def content_mtime(data: bytes) -> int:
    """The modification time site-mtimes.sh gives a file of this content (Unix seconds)."""
    return MTIME_BASE + int(hashlib.sha256(data).hexdigest()[:8], 16) % MTIME_SPAN


def expected_etag(data: bytes) -> str:
    """nginx's ETag for the file: ``"<mtime hex>-<size hex>"`` (ngx_http_set_etag); ``W/`` before it
    when gzip compressed the response."""
    return f'"{content_mtime(data):x}-{len(data):x}"'


def site_upload(file: SiteFile, site_root: str = SITE_ROOT) -> File:
    """Text (UTF-8 without NUL) as ``content``, so a diff shows it; anything else as base64."""
    path = f"{site_root}/{file.path}"
    text = file.text
    if text is None:
        return File(path=path, content_base64=base64.b64encode(file.data).decode("ascii"), mode="0444")
    return File(path=path, content=text, mode="0444")


def declares_utf8(files: tuple[SiteFile, ...]) -> bool:
    """Whether the config may say ``charset=utf-8`` for text types: only when every page, style
    sheet and script of the site is UTF-8. A header charset beats a page's ``<meta charset>``, so a
    site with a Latin-1 page gets none and its pages speak for themselves."""
    return all(file.text is not None for file in files if file.is_text_type)


def healthcheck() -> Healthcheck:
    """The home page answers (the site's own index.html); 127.0.0.1, as nginx listens on IPv4 only."""
    return Healthcheck(
        test=["CMD", "curl", "--fail", "--silent", "--show-error", "--output", "/dev/null", "http://127.0.0.1/"],
        interval="30s",
        timeout="5s",
        retries=3,
        start_period="30s",
        start_interval="1s",
    )


def route(app_name: str, settings: StaticApp) -> ProxyRoute:
    return ProxyRoute(
        app=app_name,
        kind=KIND,
        server_name=settings.hostname,
        upstream_host=edge_alias(app_name),
        upstream_port=EDGE_PORT,
        max_body_bytes=MAX_BODY_BYTES,
        read_timeout_seconds=READ_TIMEOUT_SECONDS,
        request_buffering=True,
        dav_redirects=False,
        # The site sets Cache-Control on every file itself; the edge's fallback lifetime is not wanted.
        static_cache_paths=(),
    )


def service_files(app_name: str, settings: StaticApp) -> tuple[File, ...]:
    """Config first, then the site's files sorted by path: the same directory gives the same tuple."""
    custom_404 = any(file.path == NOT_FOUND_PAGE for file in settings.files)
    conf = render_nginx_conf(app_name, settings.cache_seconds, custom_404, declares_utf8(settings.files))
    return (
        File(path=NGINX_CONF_PATH, content=conf, mode="0444"),
        File(path=MTIMES_SCRIPT_PATH, content=render_mtimes_script(), mode="0555"),
        *(site_upload(file) for file in settings.files),
    )


def spec(app_name: str, settings: StaticApp, site: Site) -> AppSpec:
    """One nginx container on the edge network, no backend, no volume, no secret."""
    service = Service(
        role=ROLE,
        image=images.NGINX,
        memory=settings.memory.app,
        memory_reservation=settings.reserved.app,
        healthcheck=healthcheck(),
        edge="routed",
        backend=False,
        files=service_files(app_name, settings),
        wait_timeout_seconds=60,
        stop_grace_seconds=10,
        # Stateless (its files are uploads, no volume): the new nginx starts beside the old one, and the old
        # drains on the image's STOPSIGNAL SIGQUIT, nginx's graceful shutdown (nginx/docker-nginx
        # stable/debian/Dockerfile), after the new one is healthy.
        replacement="create-first",
    )
    return AppSpec(kind=KIND, services=(service,), route=route(app_name, settings), url=site.public_url)
