"""A second program on the selfhost components: a PostgreSQL and a WordPress site, nothing else.

They go onto a Docker host and a network that exist already (the network's name comes from this
project's config); the WordPress joins it under the alias ``app-blog`` for the reverse proxy
already there, with its own MariaDB and Redis on an internal network of its own. Run under
Pulumi's mocks in CI: tests/test_example_project.py.
"""

import pulumi

from components.package import Database, DatabaseEngine, LocalDockerHost, WordPress

config = pulumi.Config("selfhost-example")  # this project's namespace (Pulumi.yaml's name)
network = config.require("network")

host = LocalDockerHost("host", {"docker_host": config.get("dockerHost") or ""})
on_host = pulumi.ResourceOptions(providers=[host.provider])

tools = Database(
    "tools-db",
    {
        "engine": DatabaseEngine.POSTGRES,
        "network": network,
        "database_name": "tools",
        "user": "tools",
        "memory": "256Mi",
        "protect": True,
    },
    on_host,
)
blog = WordPress(
    "blog",
    {
        "hostname": config.get("hostname") or "blog.localhost",
        "edge_network": network,
        "scheme": "http",
        "public_port": config.get_int("publicPort") or 8080,
        "name_prefix": "example",
        "title": "An example",
        "protect": True,
    },
    on_host,
)

pulumi.export("url", blog.url)
pulumi.export("adminUser", blog.admin_user)
pulumi.export("adminPassword", blog.admin_password)
pulumi.export("databaseHost", tools.host)
pulumi.export("databasePassword", tools.password)
pulumi.export("volumes", pulumi.Output.all(blog.volumes, tools.volume_name).apply(lambda v: sorted([*v[0], v[1]])))
