"""docs/architecture.md: the dev stack's graph as Mermaid, checked against the graph and Mermaid's parser.

Tier 2: the diagram is drawn from what the real program registers under the mocks; every container,
network and volume is a node in the box of the component that owns it, every attachment, mount and
route is an edge, and the text does not depend on registration order. Tier 3: Mermaid's own parser
(mermaid 11 under Node.js, tests/mermaid_parser.py) accepts the committed diagram and refuses a broken one.
"""

from __future__ import annotations

import random
import re

import pytest
import yaml

from docsgen.architecture import CONTAINER, NETWORK, VOLUME, Diagram, Resource, nginx_routes, render, stack_graph
from docsgen.targets import ROOT
from tests import mermaid_parser
from tests.mockstack import run_stack_file

DEV_APPS = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())["config"]["selfhost:apps"]


@pytest.fixture(scope="module")
def graph() -> list[Resource]:
    return stack_graph("dev")


@pytest.fixture(scope="module")
def mermaid(graph: list[Resource]) -> str:
    return Diagram(graph).mermaid()


def _node_line(mermaid: str, node_id: str) -> str:
    lines = [line.strip() for line in mermaid.splitlines() if re.match(rf"\s*{node_id}[\[\{{(]", line)]
    assert len(lines) == 1, f"{node_id}: {lines}"
    return lines[0]


def _enclosing_subgraphs(mermaid: str, node_id: str) -> list[str]:
    stack: list[str] = []
    for line in mermaid.splitlines():
        text = line.strip()
        if text.startswith("subgraph "):
            stack.append(text.split()[1].split("[")[0])
        elif text == "end":
            stack.pop()
        elif re.match(rf"{node_id}[\[\{{(]", text):
            return list(stack)
    raise AssertionError(f"{node_id} not drawn")


def test_every_container_network_and_volume_is_one_node(graph: list[Resource], mermaid: str) -> None:
    diagram = Diagram(graph)
    shown = [r for r in graph if r.type in (CONTAINER, NETWORK, VOLUME)]
    assert {r.type for r in shown} == {CONTAINER, NETWORK, VOLUME}
    for resource in shown:
        # A container is drawn under its stable service name (a create-first one's name adds a suffix).
        labels = {item["label"]: item["value"] for item in resource.inputs.get("labels") or []}
        expected = str(labels.get("io.selfhost.service", resource.inputs["name"]))
        assert expected in _node_line(mermaid, diagram.node_of(resource))
    # Nothing else is a node: images, passwords and providers stay out.
    defined = {m.group(1) for m in re.finditer(r"^\s*(\w+)[\[\{(]", mermaid, re.M) if m.group(1) != "subgraph"}
    assert defined == {"users"} | {diagram.node_of(r) for r in shown}


def test_nodes_sit_in_their_components_boxes_inside_the_host(graph: list[Resource], mermaid: str) -> None:
    lines = [line.strip() for line in mermaid.splitlines()]
    assert sum(line.startswith("subgraph ") for line in lines) == lines.count("end")
    assert _enclosing_subgraphs(mermaid, "ct_blog_db_container") == ["sg_host", "sg_blog", "sg_blog_db"]
    assert _enclosing_subgraphs(mermaid, "vol_cloud_data") == ["sg_host", "sg_cloud"]
    assert _enclosing_subgraphs(mermaid, "ct_proxy_container") == ["sg_host", "sg_proxy"]
    assert _enclosing_subgraphs(mermaid, "net_edge_network") == ["sg_host"]
    for app in DEV_APPS:
        app_type = {"wordpress": "WordPress", "nextcloud": "Nextcloud"}[DEV_APPS[app]["kind"]]
        assert f'subgraph sg_{app}["{app_type} {app}"]' in mermaid
    # A Cache inside an app is its container, labelled with the component.
    assert _node_line(mermaid, "ct_blog_redis_container").startswith('ct_blog_redis_container["Cache blog-redis<br/>')


def test_every_attachment_and_mount_is_an_edge(graph: list[Resource], mermaid: str) -> None:
    diagram = Diagram(graph)
    networks = {r.inputs["name"]: diagram.node_of(r) for r in graph if r.type == NETWORK}
    volumes = {r.inputs["name"]: diagram.node_of(r) for r in graph if r.type == VOLUME}
    edges = {line.strip() for line in mermaid.splitlines()}
    for container in (r for r in graph if r.type == CONTAINER):
        source = diagram.node_of(container)
        for attachment in container.inputs["networksAdvanced"]:
            aliases = ", ".join(sorted(attachment["aliases"]))
            link = f'---|"{aliases}"|' if aliases else "---"
            assert f"{source} {link} {networks[attachment['name']]}" in edges
        for mount in container.inputs["volumes"]:
            label = mount["containerPath"] + (" (read-only)" if mount.get("readOnly") else "")
            assert f'{source} -.-|"{label}"| {volumes[mount["volumeName"]]}' in edges


def test_the_proxy_routes_each_host_name_to_its_app(mermaid: str) -> None:
    routes = re.findall(r'ct_proxy_container ==>\|"([^ ]+) → app-(\w+):(\d+)"\| ct_(\w+)_container', mermaid)
    assert sorted((host, app, target) for host, app, _, target in routes) == sorted(
        (settings["hostname"], app, app) for app, settings in DEV_APPS.items()
    )
    assert 'users -->|":8080 → 80"| ct_proxy_container' in mermaid


def test_the_diagram_does_not_depend_on_registration_order(graph: list[Resource], mermaid: str) -> None:
    shuffled = list(graph)
    random.Random(7).shuffle(shuffled)
    assert Diagram(shuffled).mermaid() == mermaid
    assert Diagram(stack_graph("dev")).mermaid() == mermaid


def test_other_stacks_draw_too() -> None:
    """The lab stack (one app of every kind) and prod (a Hetzner host) go through the same drawing."""
    from docsgen.architecture import from_registrations

    for stack in ("lab", "prod"):
        text = Diagram(from_registrations(run_stack_file(stack).registrations)).mermaid()
        assert "==>" in text and "subgraph" in text, stack


def test_nginx_routes_pair_server_names_with_their_upstreams() -> None:
    config = """
    upstream app_a { server app-a:80 resolve max_fails=0; keepalive 8; }
    upstream app_b {
        server app-b:3000 resolve;
    }
    server { listen 80; server_name _; return 444; }
    server { server_name a.example.com www.a.example.com; location / { proxy_pass http://app_a; } }
    server { server_name b.example.com;
        location / { proxy_pass http://app_b/; }
        location /x { proxy_pass http://elsewhere.example; }
    }
    """
    assert [(r.server_name, r.upstream_host, r.upstream_port) for r in nginx_routes(config)] == [
        ("a.example.com", "app-a", 80),
        ("b.example.com", "app-b", 3000),
        ("www.a.example.com", "app-a", 80),
    ]


def test_labels_escape_quotes() -> None:
    volume = Resource(VOLUME, 'v"1', "urn:v", "", True, {"name": 'say "hi"'})
    assert '[("say #quot;hi#quot;")]' in Diagram([volume]).mermaid()


@pytest.mark.live
def test_mermaid_parses_the_committed_diagram_and_refuses_a_broken_one() -> None:
    reason = mermaid_parser.skip_reason()
    if reason:
        pytest.skip(reason)
    committed = (ROOT / "docs" / "architecture.md").read_text()
    block = re.search(r"```mermaid\n(.*?)```", committed, re.S)
    assert block is not None
    assert committed == render(stack_graph("dev"), "dev")
    result = mermaid_parser.parse(block.group(1))
    assert result.ok and result.output == "flowchart-v2", result.output
    broken = mermaid_parser.parse(block.group(1).replace('"]\n', '"\n', 1))  # one unclosed node label
    assert not broken.ok and "Parse error" in broken.output
