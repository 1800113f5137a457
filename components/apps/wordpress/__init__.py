"""The ``wordpress`` kind: a WordPress site with its own MariaDB and Redis."""

from components.apps.kind import Kind
from components.apps.wordpress import spec as _spec
from components.apps.wordpress.settings import WordPressApp

KIND = Kind(
    name="wordpress",
    settings=WordPressApp,
    spec=_spec.spec,
    component="selfhost:index:WordPress",
    summary="WordPress (Apache + PHP) with its own MariaDB and Redis, installed and kept configured by wp-cli",
    example={"kind": "wordpress", "hostname": "blog.example.com", "title": "My blog"},
)
