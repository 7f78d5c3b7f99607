"""The Kubernetes base (deploy/k8s): valid against the official Kubernetes JSON schemas,
offline (kubernetes-validate bundles them), and wired as DESIGN.md says: probes, non-root,
resources, a Service, HPA and PDB per Deployment, only the gateway reachable from outside,
and only variables the services read.

`render` reads the kustomization itself, so most checks need no kubectl; two more tests
confirm that kubectl renders the same objects and builds the example overlay.
"""

import ipaddress
import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from pydantic_settings import BaseSettings

from sportslog_activities.settings import ActivitiesSettings
from sportslog_auth.settings import AuthSettings, oidc_providers_from_environ
from sportslog_gateway.settings import GatewaySettings
from sportslog_notifier.settings import NotifierSettings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
BASE = K8S / "base"
EGRESS = K8S / "components" / "restrict-egress"
EXAMPLE = K8S / "overlays" / "example"

PORTS = {"gateway": 8000, "auth": 8001, "activities": 8002, "notifier": 8003}
SETTINGS: dict[str, type[BaseSettings]] = {
    "gateway": GatewaySettings,
    "auth": AuthSettings,
    "activities": ActivitiesSettings,
    "notifier": NotifierSettings,
}
# The oldest release still under (extended) support at the big providers, and the newest
# the schemas cover.
KUBERNETES_VERSIONS = ("1.29", kubernetes_validate.latest_version())

# Values that are secrets, or URLs that carry a password: only ever from a Secret.
SECRET_VARIABLES = {"DATABASE_URL", "AMQP_URL", "RATE_LIMIT_STORAGE"}
SECRET_SUFFIXES = ("_SECRET", "_KEY", "_PASS", "_TOKEN")

NAMESPACE = "sportslog"  # where the pods run in the reachability checks below


# --- rendering -----------------------------------------------------------------------------


def read_env_file(path: Path) -> dict[str, str]:
    """A kustomize `envs:` file: KEY=VALUE lines; blank lines and # comments skipped."""
    pairs = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            pairs[key.strip()] = value
    return pairs


def render(directory: Path) -> list[dict[str, Any]]:
    """What `kubectl kustomize` makes of a base or component without name hashes.

    Refuses kustomization fields it does not implement, so using a new one in the base
    means teaching it here first (and test_kubectl_renders_the_same confirms it).
    """
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    known = {"apiVersion", "kind", "resources", "configMapGenerator"}
    assert set(kustomization) <= known, f"render() does not know {set(kustomization) - known}"
    objects: list[dict[str, Any]] = []
    for generator in kustomization.get("configMapGenerator", []):
        assert set(generator) <= {"name", "envs", "literals"}, generator
        data: dict[str, str] = {}
        for env_file in generator.get("envs", []):
            data.update(read_env_file(directory / env_file))
        for literal in generator.get("literals", []):
            key, _, value = literal.partition("=")
            data[key] = value
        metadata = {"name": generator["name"]}
        objects.append(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data}
        )
    for resource in kustomization["resources"]:
        objects.extend(doc for doc in yaml.safe_load_all((directory / resource).read_text()) if doc)
    return objects


@pytest.fixture(scope="module")
def base() -> list[dict[str, Any]]:
    return render(BASE)


def of_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def pod_spec(deployment: dict[str, Any]) -> dict[str, Any]:
    return deployment["spec"]["template"]["spec"]


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    (only,) = pod_spec(deployment)["containers"]
    return only


def pod_labels(deployment: dict[str, Any]) -> dict[str, str]:
    return deployment["spec"]["template"]["metadata"]["labels"]


def container_port(deployment: dict[str, Any], port: int | str) -> int | None:
    """A port number or name, as a probe or Service targetPort gives it, to the number."""
    for declared in container(deployment)["ports"]:
        if port in (declared["containerPort"], declared.get("name")):
            return declared["containerPort"]
    return None


def selects(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """A Kubernetes label selector (matchLabels and matchExpressions); {} selects all."""
    if selector is None:
        return False
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        key, operator, values = expression["key"], expression["operator"], expression.get("values")
        present = key in labels
        ok = {
            "In": present and labels.get(key) in (values or []),
            "NotIn": not present or labels.get(key) not in (values or []),
            "Exists": present,
            "DoesNotExist": not present,
        }[operator]
        if not ok:
            return False
    return True


# --- schemas -------------------------------------------------------------------------------


def test_render_reads_every_object(base):
    kinds = [o["kind"] for o in base]
    assert kinds.count("Deployment") == len(PORTS)
    names = [(o["kind"], o["metadata"]["name"]) for o in base]
    assert len(names) == len(set(names)), "two objects share a kind and name"


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_object_matches_the_kubernetes_schema(base, version):
    # Strict: an unknown field (a typo, a field from a newer release) is an error too.
    failures = []
    for obj in base + render(EGRESS):
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            where = "/".join(str(p) for p in exc.path)
            failures.append(f"{obj['kind']}/{obj['metadata']['name']} at {where}: {exc.message}")
    assert not failures, "\n".join(failures)


def test_schema_check_catches_a_bad_field():
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "x"},
        "spec": {"selector": {}, "template": {"spec": {"containers": [{"name": "x"}]}}},
    }
    kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[-1], strict=True)
    deployment["spec"]["replica"] = 2
    with pytest.raises(kubernetes_validate.ValidationError, match="replica"):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[-1], strict=True)


def test_the_overlay_picks_the_namespace(base):
    # A namespace fixed in the base would split the objects from the policies that guard them.
    assert not [o["metadata"]["name"] for o in base if "namespace" in o["metadata"]]


def test_no_secret_values_in_the_base(base):
    assert not of_kind(base, "Secret"), "Secrets come from the overlay, never the repository"


# --- Deployments ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", PORTS)
def test_deployment(base, name):
    deployment = of_kind(base, "Deployment")[name]
    app = container(deployment)
    port = PORTS[name]
    assert container_port(deployment, "http") == port

    liveness, readiness = app["livenessProbe"]["httpGet"], app["readinessProbe"]["httpGet"]
    assert liveness["path"] == "/health"
    assert readiness["path"] == "/ready"
    assert container_port(deployment, liveness["port"]) == port
    assert container_port(deployment, readiness["port"]) == port

    resources = app["resources"]
    assert {"cpu", "memory"} <= set(resources["requests"])
    assert {"cpu", "memory"} <= set(resources["limits"])

    pod_security, security = pod_spec(deployment)["securityContext"], app["securityContext"]
    assert security.get("runAsNonRoot", pod_security.get("runAsNonRoot")) is True
    assert security.get("runAsUser", pod_security.get("runAsUser")) not in (None, 0)
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]

    values = {e["name"]: e.get("value") for e in app["env"]}
    assert values["PORT"] == str(port)
    assert values["HOST"] == "0.0.0.0", "the settings default binds loopback only"


@pytest.mark.parametrize("name", PORTS)
def test_deployment_runs_the_image_compose_builds(base, name):
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    image = container(of_kind(base, "Deployment")[name])["image"]
    assert image == compose["services"][name]["image"]


@pytest.mark.parametrize("name", PORTS)
def test_deployment_has_service_autoscaler_and_disruption_budget(base, name):
    deployment = of_kind(base, "Deployment")[name]
    labels = pod_labels(deployment)
    assert selects(deployment["spec"]["selector"], labels)

    services = [
        s
        for s in of_kind(base, "Service").values()
        if selects({"matchLabels": s["spec"]["selector"]}, labels)
    ]
    assert len(services) == 1, f"{name}: {len(services)} Services select its pods"
    targets = [container_port(deployment, p["targetPort"]) for p in services[0]["spec"]["ports"]]
    assert targets == [PORTS[name]]

    autoscalers = [
        h
        for h in of_kind(base, "HorizontalPodAutoscaler").values()
        if h["spec"]["scaleTargetRef"]
        == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
    ]
    assert len(autoscalers) == 1, f"{name}: {len(autoscalers)} HPAs target it"
    hpa = autoscalers[0]["spec"]
    assert 1 <= hpa["minReplicas"] <= hpa["maxReplicas"]
    assert [m["resource"]["name"] for m in hpa["metrics"] if m["type"] == "Resource"] == ["cpu"]
    assert "replicas" not in deployment["spec"], "the HPA owns the replica count"

    budgets = [
        p
        for p in of_kind(base, "PodDisruptionBudget").values()
        if selects(p["spec"]["selector"], labels)
    ]
    assert len(budgets) == 1, f"{name}: {len(budgets)} PDBs select its pods"


# --- NetworkPolicies -----------------------------------------------------------------------


@dataclass(frozen=True)
class Peer:
    """Where a connection comes from: a pod (namespace + labels) or outside the cluster."""

    namespace: str | None
    labels: Mapping[str, str] = field(default_factory=dict)
    ip: str = "10.244.1.7"


OUTSIDE = Peer(None, ip="203.0.113.7")
OTHER_NAMESPACE = Peer("default", {"app": "web"})
SAME_NAMESPACE = Peer(NAMESPACE, {"app": "debug"})
PROMETHEUS = Peer("monitoring", {"app.kubernetes.io/name": "prometheus"})
NOT_PROMETHEUS = Peer("monitoring", {"app.kubernetes.io/name": "grafana"})
PROMETHEUS_ELSEWHERE = Peer("default", {"app.kubernetes.io/name": "prometheus"})


def app_peer(base: list[dict[str, Any]], name: str) -> Peer:
    return Peer(NAMESPACE, pod_labels(of_kind(base, "Deployment")[name]))


def peer_matches(rule_peer: Mapping[str, Any], source: Peer) -> bool:
    if "ipBlock" in rule_peer:
        block = rule_peer["ipBlock"]
        address = ipaddress.ip_address(source.ip)
        return address in ipaddress.ip_network(block["cidr"]) and not any(
            address in ipaddress.ip_network(cidr) for cidr in block.get("except", [])
        )
    if source.namespace is None:
        return False  # pod and namespace selectors only ever match pods
    namespace_selector = rule_peer.get("namespaceSelector")
    in_namespace = (
        selects(namespace_selector, {"kubernetes.io/metadata.name": source.namespace})
        if namespace_selector is not None
        else source.namespace == NAMESPACE
    )
    pod_selector = rule_peer.get("podSelector")
    return in_namespace and (pod_selector is None or selects(pod_selector, source.labels))


def ingress_allowed(policies: list[dict[str, Any]], source: Peer, target: dict[str, Any]) -> bool:
    """NetworkPolicy semantics for a TCP connection from `source` to `target`'s http port."""
    port = PORTS[target["metadata"]["name"]]
    isolating = [
        p
        for p in policies
        if "Ingress" in p["spec"].get("policyTypes", ["Ingress"])
        and selects(p["spec"]["podSelector"], pod_labels(target))
    ]
    if not isolating:
        return True
    for policy in isolating:
        for rule in policy["spec"].get("ingress", []):
            sources_ok = not rule.get("from") or any(peer_matches(p, source) for p in rule["from"])
            ports_ok = not rule.get("ports") or any(
                p.get("protocol", "TCP") == "TCP"
                and ("port" not in p or container_port(target, p["port"]) == port)
                for p in rule["ports"]
            )
            if sources_ok and ports_ok:
                return True
    return False


def reachable_from(base: list[dict[str, Any]], source: Peer) -> set[str]:
    policies = list(of_kind(base, "NetworkPolicy").values())
    deployments = of_kind(base, "Deployment")
    return {name for name in PORTS if ingress_allowed(policies, source, deployments[name])}


def test_namespace_denies_ingress_by_default(base):
    defaults = [
        p
        for p in of_kind(base, "NetworkPolicy").values()
        if p["spec"]["podSelector"] == {}
        and p["spec"].get("policyTypes") == ["Ingress"]
        and not p["spec"].get("ingress")
    ]
    assert defaults, "no default-deny ingress policy"


@pytest.mark.parametrize(
    "source", [OUTSIDE, OTHER_NAMESPACE, SAME_NAMESPACE, NOT_PROMETHEUS, PROMETHEUS_ELSEWHERE]
)
def test_only_the_gateway_is_reachable_from_outside(base, source):
    assert reachable_from(base, source) == {"gateway"}


@pytest.mark.parametrize(
    ("caller", "reaches"),
    [
        ("gateway", {"gateway", "auth", "activities"}),  # routes, /internal/, JWKS
        ("activities", {"gateway", "auth"}),  # auth for the JWKS
        ("auth", {"gateway"}),
        ("notifier", {"gateway"}),
    ],
)
def test_services_reach_only_what_they_call(base, caller, reaches):
    assert reachable_from(base, app_peer(base, caller)) == reaches


def test_prometheus_scrapes_every_service(base):
    assert reachable_from(base, PROMETHEUS) == set(PORTS)


def test_egress_component_keeps_what_the_services_need():
    policies = of_kind(render(EGRESS), "NetworkPolicy")
    allowed = {
        p.get("port")
        for policy in policies.values()
        for rule in policy["spec"]["egress"]
        for p in rule.get("ports", [])
    }
    # DNS, PostgreSQL, AMQP, Redis, SMTP submission, HTTPS, the services' own port.
    assert {53, 5432, 5672, 6379, 587, 443, "http"} <= allowed


# --- environment ---------------------------------------------------------------------------


@dataclass(frozen=True)
class EnvSource:
    """Where one variable of a container comes from."""

    kind: str  # "value", "configMap" or "secret"
    name: str | None = None  # the ConfigMap or Secret
    optional: bool = False


def env_sources(base: list[dict[str, Any]], name: str) -> dict[str, EnvSource]:
    """Every variable a service's container gets, envFrom ConfigMaps expanded."""
    app = container(of_kind(base, "Deployment")[name])
    config_maps = of_kind(base, "ConfigMap")
    sources: dict[str, EnvSource] = {}
    for ref in app.get("envFrom", []):
        assert set(ref) == {"configMapRef"}, "secrets are listed one by one, not envFrom"
        config_map = ref["configMapRef"]["name"]
        for key in config_maps[config_map]["data"]:
            sources[key] = EnvSource("configMap", config_map)
    for entry in app.get("env", []):  # `env` wins over envFrom, as in Kubernetes
        value_from = entry.get("valueFrom", {})
        if "secretKeyRef" in value_from:
            ref = value_from["secretKeyRef"]
            assert ref["key"] == entry["name"], "a Secret's key is the variable's name"
            sources[entry["name"]] = EnvSource("secret", ref["name"], ref.get("optional", False))
        elif "configMapKeyRef" in value_from:
            ref = value_from["configMapKeyRef"]
            assert ref["key"] in config_maps[ref["name"]]["data"], ref
            sources[entry["name"]] = EnvSource("configMap", ref["name"], ref.get("optional", False))
        else:
            assert set(entry) == {"name", "value"}, entry
            sources[entry["name"]] = EnvSource("value")
    return sources


def variables_read(name: str) -> set[str]:
    return {field_name.upper() for field_name in SETTINGS[name].model_fields}


def is_secret(variable: str) -> bool:
    return variable in SECRET_VARIABLES or variable.endswith(SECRET_SUFFIXES)


@pytest.mark.parametrize("name", PORTS)
def test_env_names_are_ones_the_service_reads(base, name):
    given = set(env_sources(base, name))
    read = variables_read(name)
    # auth also reads OIDC_<NAME>_ISSUER/CLIENT_ID/CLIENT_SECRET, outside its fields.
    unknown = {
        v for v in given - read if not (name == "auth" and oidc_providers_from_environ({v: "x"}))
    }
    assert not unknown, f"{name} does not read {sorted(unknown)}"


@pytest.mark.parametrize("name", PORTS)
def test_required_settings_are_always_given(base, name):
    sources = env_sources(base, name)
    required = {f.upper() for f, info in SETTINGS[name].model_fields.items() if info.is_required()}
    missing = {v for v in required if v not in sources or sources[v].optional}
    assert not missing, f"{name} would refuse to start without {sorted(missing)}"


@pytest.mark.parametrize("name", PORTS)
def test_secrets_come_only_from_secrets(base, name):
    for variable, source in env_sources(base, name).items():
        if is_secret(variable):
            assert source.kind == "secret", f"{name}: {variable} from a {source.kind}"


def test_config_maps_hold_no_secrets(base):
    for name, config_map in of_kind(base, "ConfigMap").items():
        assert not [k for k in config_map["data"] if is_secret(k)], name


def test_shared_settings_come_from_one_place(base):
    # A token auth issues for one issuer is refused by a gateway expecting another.
    for variable in ("JWT_ISSUER", "JWT_AUDIENCE", "EVENT_SEAL_KEY", "APP_BASE_URL"):
        users = {n: s for n in PORTS if (s := env_sources(base, n).get(variable))}
        assert len(users) >= 2, variable
        assert len({(s.kind, s.name) for s in users.values()}) == 1, f"{variable}: {users}"


# --- the example overlay -------------------------------------------------------------------


def referenced_secrets(base: list[dict[str, Any]]) -> dict[str, dict[str, bool]]:
    """Secret name -> {key: optional} for every secretKeyRef in the base."""
    found: dict[str, dict[str, bool]] = {}
    for name in PORTS:
        for variable, source in env_sources(base, name).items():
            if source.kind == "secret":
                assert source.name is not None
                found.setdefault(source.name, {})[variable] = source.optional
    return found


def test_example_overlay_creates_every_secret_the_base_uses(base):
    overlay = yaml.safe_load((EXAMPLE / "kustomization.yaml").read_text())
    generators = {g["name"]: g for g in overlay["secretGenerator"]}
    for secret, keys in referenced_secrets(base).items():
        (env_file,) = generators[secret]["envs"]
        assert not env_file.endswith(".example"), "never deploy the placeholders"
        example = read_env_file(EXAMPLE / f"{env_file}.example")
        required = {k for k, optional in keys.items() if not optional}
        assert required <= set(example), f"{secret} example lacks {sorted(required - set(example))}"
        assert set(example) <= set(keys), f"{secret} example has unused {set(example) - set(keys)}"


def test_example_overlay_mounts_the_signing_key_where_auth_reads_it(base):
    deployment = of_kind(base, "Deployment")["auth"]
    values = {e["name"]: e.get("value") for e in container(deployment)["env"]}
    key_file = Path(values["JWT_PRIVATE_KEY_FILE"])
    mounts = {m["name"]: Path(m["mountPath"]) for m in container(deployment)["volumeMounts"]}
    (volume,) = [
        v for v in pod_spec(deployment)["volumes"] if mounts.get(v["name"]) == key_file.parent
    ]
    overlay = yaml.safe_load((EXAMPLE / "kustomization.yaml").read_text())
    generators = {g["name"]: g for g in overlay["secretGenerator"]}
    (entry,) = generators[volume["secret"]["secretName"]]["files"]
    assert entry.partition("=")[0] == key_file.name


# --- kubectl's own kustomize (.ci/run installs kubectl when it is missing) ------------------


def kustomize(directory: Path) -> list[dict[str, Any]]:
    assert shutil.which("kubectl"), "kubectl is needed here: apt-get install kubectl"
    out = subprocess.run(
        ["kubectl", "kustomize", str(directory)], check=True, capture_output=True, text=True
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def without_hashes(objects: list[dict[str, Any]], generated: set[str]) -> Iterator[dict[str, Any]]:
    """Generated names lose kustomize's `-<hash>` suffix, wherever they appear."""
    pattern = re.compile(rf"\b({'|'.join(map(re.escape, generated))})-[a-z0-9]{{10}}\b")
    for obj in objects:
        yield yaml.safe_load(pattern.sub(r"\1", yaml.safe_dump(obj)))


def test_kubectl_renders_the_same(base):
    generated = set(of_kind(base, "ConfigMap"))

    def key(o: dict[str, Any]) -> tuple[str, str]:
        return o["kind"], o["metadata"]["name"]

    assert sorted(without_hashes(kustomize(BASE), generated), key=key) == sorted(base, key=key)


def test_example_overlay_builds(tmp_path):
    # The overlay as an operator fills it in: placeholders copied to the real names.
    copy = tmp_path / "k8s"
    shutil.copytree(K8S, copy)
    secrets = copy / "overlays" / "example" / "secrets"
    for example in secrets.glob("*.example"):
        example.rename(example.with_suffix(""))
    (secrets / "jwt_ed25519.pem").write_text("placeholder\n")
    objects = kustomize(copy / "overlays" / "example")
    for obj in objects:
        kubernetes_validate.validate(obj, KUBERNETES_VERSIONS[-1], strict=True)
    assert {o["metadata"].get("namespace") for o in objects if o["kind"] != "Namespace"} == {
        NAMESPACE
    }
