"""docs/architecture.md: a Mermaid diagram of the resources the program registers for a stack.

The graph is the one ``tests/mockstack.py`` records when it runs the real ``__main__.py`` with a
shipped stack file under Pulumi's mocks, so the diagram shows what ``pulumi up`` would create, not
what someone remembers. It is drawn for readers, not dumped:

- every component (``selfhost:index:*``) is a subgraph, nested as the components are parented; the
  components deployed through a host's Docker provider sit inside that host's subgraph; a component
  holding a single container or network is drawn as that node, its label naming the component;
- containers, Docker networks and volumes are nodes (images, passwords and providers are left out);
- edges: a container's network attachments (labelled with its aliases there), its volume mounts
  (labelled with the path), the proxy's routes to the apps (a host name to the container holding
  the alias its nginx upstream names) and the published ports;
- everything is sorted, so the text changes only when the graph does.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

CONTAINER = "docker:index/container:Container"
NETWORK = "docker:index/network:Network"
VOLUME = "docker:index/volume:Volume"
SHOWN = (CONTAINER, NETWORK, VOLUME)


@dataclass(frozen=True)
class Resource:
    """What the diagram needs of one registered resource (a ``tests.mockstack.Registration``)."""

    type: str
    name: str
    urn: str
    parent: str
    custom: bool
    inputs: Mapping[str, Any]
    provider: str = ""
    property_dependencies: Mapping[str, Sequence[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Route:
    server_name: str
    upstream_host: str
    upstream_port: int


_UPSTREAM = re.compile(r"upstream\s+(\S+)\s*\{[^}]*?\bserver\s+([^\s:;]+):(\d+)", re.S)
_SERVER_NAME = re.compile(r"\bserver_name\s+([^;]+);")
_PROXY_PASS = re.compile(r"\bproxy_pass\s+https?://([^/;\s]+)")


def nginx_routes(config: str) -> list[Route]:
    """Host name -> upstream (host, port) pairs of an nginx config: each ``server_name``'s ``proxy_pass``
    targets up to the next ``server_name``, resolved through the config's ``upstream`` blocks."""
    upstreams = {name: (host, int(port)) for name, host, port in _UPSTREAM.findall(config)}
    routes: set[Route] = set()
    names = list(_SERVER_NAME.finditer(config))
    for index, match in enumerate(names):
        end = names[index + 1].start() if index + 1 < len(names) else len(config)
        for target in _PROXY_PASS.findall(config, match.end(), end):
            if target in upstreams:
                host, port = upstreams[target]
                for server_name in match.group(1).split():
                    routes.add(Route(server_name, host, port))
    return sorted(routes, key=lambda r: (r.server_name, r.upstream_host, r.upstream_port))


def _node_id(resource: Resource) -> str:
    prefix = {CONTAINER: "ct", NETWORK: "net", VOLUME: "vol"}.get(resource.type, "sg")
    return prefix + "_" + re.sub(r"[^A-Za-z0-9]", "_", resource.name)


def _text(label: str) -> str:
    """A quoted Mermaid label: quotes as entities, lines joined with <br/>."""
    return '"' + label.replace('"', "#quot;") + '"'


def _short_type(token: str) -> str:
    return token.rsplit(":", 1)[-1]


def _provider_urn(reference: str) -> str:
    """``<urn>::<id>`` -> ``<urn>``."""
    return reference.rsplit("::", 1)[0] if reference else ""


class Diagram:
    def __init__(self, resources: Iterable[Resource]) -> None:
        self.resources = sorted(resources, key=lambda r: r.urn)
        self.by_urn = {r.urn: r for r in self.resources}
        self.children: dict[str, list[Resource]] = defaultdict(list)
        for resource in self.resources:
            self.children[resource.parent].append(resource)
        self.components = [r for r in self.resources if not r.custom]
        self.shown = [r for r in self.resources if r.type in SHOWN]
        self.ids = {r.urn: _node_id(r) for r in [*self.components, *self.shown]}
        if len(set(self.ids.values())) != len(self.ids):
            raise ValueError("two resources map to one Mermaid id; rename one or extend docsgen.architecture._node_id")
        self.parent_of = {r.urn: self._placement(r) for r in [*self.components, *self.shown]}
        self.collapsed = self._collapsed()

    def _descendants(self, urn: str) -> list[Resource]:
        found: list[Resource] = []
        frontier = [urn]
        while frontier:
            for child in self.children.get(frontier.pop(), []):
                found.append(child)
                frontier.append(child.urn)
        return found

    def _host_of(self, component: Resource) -> str:
        """The host component whose Docker provider deploys everything under ``component`` (or "")."""
        hosts = set()
        for resource in self._descendants(component.urn):
            provider = self.by_urn.get(_provider_urn(resource.provider)) if resource.custom else None
            if provider is not None and provider.parent in self.by_urn:  # not a default provider
                hosts.add(provider.parent)
        return next(iter(hosts)) if len(hosts) == 1 and component.urn not in hosts else ""

    def _placement(self, resource: Resource) -> str:
        """The subgraph a node or component is drawn in: its parent component, or its host's."""
        if resource.parent in self.by_urn:
            return resource.parent
        return self._host_of(resource) if not resource.custom else ""

    def _members(self, urn: str) -> tuple[list[Resource], list[Resource]]:
        """The components and the shown resources drawn directly inside ``urn``'s subgraph."""
        members = sorted(
            (r for r in [*self.components, *self.shown] if self.parent_of[r.urn] == urn), key=lambda r: r.name
        )
        return [r for r in members if not r.custom], [r for r in members if r.custom]

    def _collapsed(self) -> dict[str, Resource]:
        """Components drawn as their one node: component -> node.

        A Network component is its network, and a component inside another holding one container
        (an app's Cache) is that container; the top-level ones (the apps, the proxy) stay boxes."""
        collapsed = {}
        for component in self.components:
            subcomponents, nodes = self._members(component.urn)
            if subcomponents or len(nodes) != 1:
                continue
            if nodes[0].type == NETWORK or (nodes[0].type == CONTAINER and component.parent in self.by_urn):
                collapsed[component.urn] = nodes[0]
        return collapsed

    def node_of(self, resource: Resource) -> str:
        """The Mermaid id an edge to ``resource`` uses."""
        return self.ids[resource.urn]

    def _image(self, container: Resource) -> str:
        for urn in container.property_dependencies.get("image", []):
            image = self.by_urn.get(urn)
            if image is not None and isinstance(image.inputs.get("name"), str):
                return str(image.inputs["name"]).split("@", 1)[0]  # the tag; the digest is the registry's
        return ""

    def _label(self, resource: Resource) -> str:
        lines = []
        component = next((self.by_urn[c] for c, node in self.collapsed.items() if node.urn == resource.urn), None)
        if component is not None:
            lines.append(f"{_short_type(component.type)} {component.name}")
        name = str(resource.inputs.get("name", resource.name))
        if resource.type == CONTAINER:
            # The stable service name: a create-first container's own name adds a generation suffix
            # that changes with every replacement (components/core/container.py).
            labels = {str(item.get("label")): item.get("value") for item in resource.inputs.get("labels") or []}
            service = labels.get("io.selfhost.service")
            shown = name if service is None else f"{service} (+ generation suffix)" if service != name else name
            lines += [shown, self._image(resource)]
        elif resource.type == NETWORK:
            subnets = [str(c.get("subnet")) for c in resource.inputs.get("ipamConfigs") or [] if c.get("subnet")]
            lines += [name, ", ".join(["internal" if resource.inputs.get("internal") else "bridge", *subnets])]
        else:
            lines.append(name)
        return "<br/>".join(line for line in lines if line)

    def _node(self, resource: Resource) -> str:
        label = _text(self._label(resource))
        shape = {CONTAINER: f"[{label}]", NETWORK: f"{{{{{label}}}}}", VOLUME: f"[({label})]"}[resource.type]
        return self.node_of(resource) + shape

    def _subgraph(self, urn: str, depth: int) -> list[str]:
        indent = "  " * depth
        subcomponents, nodes = self._members(urn)
        lines = []
        for component in subcomponents:
            if component.urn in self.collapsed:
                lines.append(indent + self._node(self.collapsed[component.urn]))
                continue
            title = _text(f"{_short_type(component.type)} {component.name}")
            lines.append(f"{indent}subgraph {self.ids[component.urn]}[{title}]")
            lines += self._subgraph(component.urn, depth + 1)
            lines.append(f"{indent}end")
        lines += [indent + self._node(node) for node in nodes]
        return lines

    def edges(self) -> list[str]:
        networks = {str(r.inputs.get("name")): r for r in self.shown if r.type == NETWORK}
        volumes = {str(r.inputs.get("name")): r for r in self.shown if r.type == VOLUME}
        containers = [r for r in self.shown if r.type == CONTAINER]
        alias_owner: dict[str, Resource] = {}
        attachments, mounts, routes, published = [], [], [], []
        for container in containers:
            source = self.node_of(container)
            for attachment in container.inputs.get("networksAdvanced") or []:
                network = networks.get(str(attachment.get("name")))
                aliases = sorted(str(a) for a in attachment.get("aliases") or [])
                for alias in aliases:
                    alias_owner[alias] = container
                if network is not None:
                    link = f"---|{_text(', '.join(aliases))}|" if aliases else "---"
                    attachments.append(f"{source} {link} {self.node_of(network)}")
            for mount in container.inputs.get("volumes") or []:
                volume = volumes.get(str(mount.get("volumeName")))
                if volume is not None:
                    path = str(mount.get("containerPath")) + (" (read-only)" if mount.get("readOnly") else "")
                    mounts.append(f"{source} -.-|{_text(path)}| {self.node_of(volume)}")
            ports = sorted({(int(p["external"]), int(p["internal"])) for p in container.inputs.get("ports") or []})
            if ports:
                label = ", ".join(f":{external} → {internal}" for external, internal in ports)
                published.append(f"users -->|{_text(label)}| {source}")
        for container in containers:
            for upload in container.inputs.get("uploads") or []:
                for route in nginx_routes(str(upload.get("content") or "")):
                    target = alias_owner.get(route.upstream_host)
                    if target is not None and target.urn != container.urn:
                        label = _text(f"{route.server_name} → {route.upstream_host}:{route.upstream_port}")
                        routes.append(f"{self.node_of(container)} ==>|{label}| {self.node_of(target)}")
        return [*sorted(set(published)), *sorted(set(routes)), *sorted(set(attachments)), *sorted(set(mounts))]

    def mermaid(self) -> str:
        lines = ["flowchart LR", "  users((users))"]
        lines += self._subgraph("", 1)
        lines += ["  " + edge for edge in self.edges()]
        return "\n".join(lines) + "\n"


HEADER = """<!-- Generated by `python -m docsgen --write` from the {stack} stack's graph; do not edit by hand. -->

# Architecture

What the program registers for the `{stack}` stack (`Pulumi.{stack}.yaml`), drawn from the resource
graph itself: `docsgen/architecture.py` runs the real `__main__.py` under Pulumi's mocks
(`tests/mockstack.py`) and draws every component as a box, nested as they are parented, with the
containers, Docker networks and volumes in them. Solid lines join a container to the networks it is
attached to (labelled with its DNS aliases there), dotted lines to the volumes it mounts (labelled with
the path), thick arrows are the proxy's routes (host name → the alias its nginx upstream names); the
published ports come in from `users`. Images, generated passwords and the provider are left out.
The README's "What it builds" draws the same design by hand.
"""


def render(resources: Iterable[Resource], stack: str) -> str:
    return HEADER.format(stack=stack) + "\n```mermaid\n" + Diagram(resources).mermaid() + "```\n"


def from_registrations(registrations: Iterable[Any]) -> list[Resource]:
    """The diagram's view of ``tests.mockstack.Registration`` objects."""
    return [
        Resource(
            type=r.type,
            name=r.name,
            urn=r.urn,
            parent=r.parent,
            custom=r.custom,
            inputs=r.inputs,
            provider=r.provider,
            property_dependencies=r.property_dependencies,
        )
        for r in registrations
    ]


def stack_graph(stack: str = "dev") -> list[Resource]:
    """What the real program registers for ``Pulumi.<stack>.yaml`` under the mocks."""
    from tests.mockstack import run_stack_file

    return from_registrations(run_stack_file(stack).registrations)
