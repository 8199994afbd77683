"""The deployment files (deploy/k8s kustomize overlays, docker-compose.yml) say what the code
does: probes on the endpoints that exist, the gateway pointed at the workers, every ``ISC_*``
variable a setting, and the Kubernetes objects wired to each other (selectors, ports, volumes).

The overlays are rendered by a small renderer here (resources and JSON 6902 patches, the only
kustomize features they use), so the test needs nothing but PyYAML; where ``kubectl`` is on the
PATH, its own ``kubectl kustomize`` renders them too and must give the same objects."""

from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.settings import Settings
from tests.support.paths import REPO

K8S = REPO / "deploy" / "k8s"
OVERLAYS = ["cpu", "gpu"]
Doc = dict[str, Any]


def _pointer(path: str) -> list[str]:
    return [part.replace("~1", "/").replace("~0", "~") for part in path.lstrip("/").split("/")]


def apply_json_patch(doc: Doc, operations: list[Doc]) -> None:
    """RFC 6902 add, replace and remove on dicts and lists (what the overlays use)."""
    for operation in operations:
        *parents, last = _pointer(operation["path"])
        node: Any = doc
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if operation["op"] == "remove":
            del node[int(last) if isinstance(node, list) else last]
        elif isinstance(node, list):
            index = len(node) if last == "-" else int(last)
            if operation["op"] == "add":
                node.insert(index, operation["value"])
            else:
                node[index] = operation["value"]
        else:
            assert operation["op"] in ("add", "replace"), operation
            node[last] = operation["value"]


def render(folder: Path) -> list[Doc]:
    """The objects a kustomization folder stands for."""
    kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text())
    unknown = set(kustomization) - {"apiVersion", "kind", "resources", "patches"}
    assert not unknown, f"the renderer here does not know {unknown}"
    docs: list[Doc] = []
    for resource in kustomization.get("resources", []):
        path = (folder / resource).resolve()
        if path.is_dir():
            docs += render(path)
        else:
            docs += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    for patch in kustomization.get("patches", []):
        target = patch["target"]
        matched = [
            doc
            for doc in docs
            if doc["kind"] == target["kind"] and doc["metadata"]["name"] == target["name"]
        ]
        assert len(matched) == 1, target
        apply_json_patch(matched[0], yaml.safe_load(patch["patch"]))
    return copy.deepcopy(docs)


def by_key(docs: list[Doc]) -> dict[tuple[str, str], Doc]:
    return {(doc["kind"], doc["metadata"]["name"]): doc for doc in docs}


@pytest.fixture(scope="module", params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> tuple[str, dict[tuple[str, str], Doc]]:
    return request.param, by_key(render(K8S / "overlays" / request.param))


def container(objects: dict[tuple[str, str], Doc], name: str) -> Doc:
    containers = objects[("Deployment", name)]["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def env_of(spec: Doc) -> dict[str, str]:
    return {item["name"]: item["value"] for item in spec.get("env", [])}


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
@pytest.mark.parametrize("name", OVERLAYS)
def test_kubectl_kustomize_renders_the_same_objects(name: str) -> None:
    rendered = subprocess.run(
        ["kubectl", "kustomize", str(K8S / "overlays" / name)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    theirs = by_key([doc for doc in yaml.safe_load_all(rendered) if doc])
    assert theirs == by_key(render(K8S / "overlays" / name))


def test_every_object_kind_is_there(overlay: tuple[str, dict[tuple[str, str], Doc]]) -> None:
    _, objects = overlay
    assert set(objects) == {
        ("PersistentVolumeClaim", "isc-weights"),
        ("Deployment", "isc-worker"),
        ("Service", "isc-worker"),
        ("HorizontalPodAutoscaler", "isc-worker"),
        ("PodDisruptionBudget", "isc-worker"),
        ("Deployment", "isc-gateway"),
        ("Service", "isc-gateway"),
        ("PodDisruptionBudget", "isc-gateway"),
        ("StatefulSet", "isc-qdrant"),
        ("Service", "isc-qdrant"),
    }


def test_probes_ask_the_endpoints_that_mean_live_and_ready(
    overlay: tuple[str, dict[tuple[str, str], Doc]],
) -> None:
    _, objects = overlay
    gateway, worker = container(objects, "isc-gateway"), container(objects, "isc-worker")
    assert gateway["livenessProbe"]["httpGet"]["path"] == "/health/live"
    assert gateway["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    assert worker["readinessProbe"]["httpGet"]["path"] == "/v1/health/ready"
    # Liveness must not fail while the models load: /v1/health answers 200 then too.
    assert worker["livenessProbe"]["httpGet"]["path"] == "/v1/health"
    assert worker["startupProbe"]["httpGet"]["path"] == "/v1/health"
    for spec in (gateway, worker):
        names = {port["name"] for port in spec["ports"]}
        for probe in ("livenessProbe", "readinessProbe"):
            assert spec[probe]["httpGet"]["port"] in names


def test_the_gateway_finds_the_worker_pods_through_the_headless_service(
    overlay: tuple[str, dict[tuple[str, str], Doc]],
) -> None:
    _, objects = overlay
    service = objects[("Service", "isc-worker")]
    assert service["spec"]["clusterIP"] == "None"
    host, port = env_of(container(objects, "isc-gateway"))["ISC_WORKER_DNS"].split(":")
    assert host == service["metadata"]["name"]
    assert int(port) == service["spec"]["ports"][0]["port"]
    worker = container(objects, "isc-worker")
    assert worker["ports"][0]["containerPort"] == int(port)
    assert worker["command"][-2:] == ["--port", port]


def test_every_gateway_replica_uses_the_one_qdrant(
    overlay: tuple[str, dict[tuple[str, str], Doc]],
) -> None:
    _, objects = overlay
    service = objects[("Service", "isc-qdrant")]
    url = env_of(container(objects, "isc-gateway"))["ISC_QDRANT_URL"]
    assert url == f"http://{service['metadata']['name']}:{service['spec']['ports'][0]['port']}"
    pod = objects[("StatefulSet", "isc-qdrant")]["spec"]["template"]
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert objects[("Deployment", "isc-gateway")]["spec"]["replicas"] > 1


def test_selectors_match_the_pods(overlay: tuple[str, dict[tuple[str, str], Doc]]) -> None:
    _, objects = overlay
    for name in ("isc-worker", "isc-gateway"):
        deployment = objects[("Deployment", name)]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
        assert objects[("Service", name)]["spec"]["selector"].items() <= labels.items()
        pdb = objects[("PodDisruptionBudget", name)]["spec"]
        assert pdb["selector"]["matchLabels"].items() <= labels.items()
        assert pdb["minAvailable"] < deployment["spec"]["replicas"]  # a drain can go on
    hpa = objects[("HorizontalPodAutoscaler", "isc-worker")]["spec"]
    assert hpa["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "isc-worker",
    }
    assert (
        hpa["minReplicas"] > objects[("PodDisruptionBudget", "isc-worker")]["spec"]["minAvailable"]
    )


def test_pods_run_unprivileged_with_resources_and_a_read_only_root(
    overlay: tuple[str, dict[tuple[str, str], Doc]],
) -> None:
    _, objects = overlay
    for name in ("isc-worker", "isc-gateway"):
        pod = objects[("Deployment", name)]["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == 10001  # the image's user (Dockerfile)
        spec = container(objects, name)
        assert spec["securityContext"]["readOnlyRootFilesystem"] is True
        assert spec["securityContext"]["allowPrivilegeEscalation"] is False
        assert {"cpu", "memory"} <= set(spec["resources"]["requests"])
        assert "memory" in spec["resources"]["limits"]
        # The one writable place: /tmp, an emptyDir.
        mounts = {mount["mountPath"]: mount["name"] for mount in spec["volumeMounts"]}
        volumes = {volume["name"]: volume for volume in pod["volumes"]}
        assert "emptyDir" in volumes[mounts["/tmp"]]
        assert pod["terminationGracePeriodSeconds"] > float(
            env_of(spec).get("ISC_SHUTDOWN_GRACE_S", Settings().shutdown_grace_s)
        )


def test_workers_read_the_weights_from_a_read_only_volume(
    overlay: tuple[str, dict[tuple[str, str], Doc]],
) -> None:
    _, objects = overlay
    worker = container(objects, "isc-worker")
    env = env_of(worker)
    assert env["ISC_ALLOW_WEIGHT_DOWNLOAD"] == "false"
    mount = next(m for m in worker["volumeMounts"] if m["mountPath"] == env["ISC_WEIGHTS_DIR"])
    assert mount["readOnly"] is True
    pod = objects[("Deployment", "isc-worker")]["spec"]["template"]["spec"]
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    assert volume["persistentVolumeClaim"]["claimName"] == "isc-weights"
    # Written at start-up: must be on the writable emptyDir.
    assert env["ISC_CNN_TUNING_FILE"].startswith("/tmp/")


def test_only_the_gpu_overlay_asks_for_one_gpu_per_worker(
    overlay: tuple[str, dict[tuple[str, str], Doc]],
) -> None:
    name, objects = overlay
    limits = container(objects, "isc-worker")["resources"]["limits"]
    assert limits.get("nvidia.com/gpu") == (1 if name == "gpu" else None)
    assert "nvidia.com/gpu" not in container(objects, "isc-gateway")["resources"]["limits"]


def compose() -> Doc:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def all_isc_variables() -> dict[str, str]:
    """Every ISC_* variable the manifests and the compose file set, with where."""
    found: dict[str, str] = {}
    for name in OVERLAYS:
        for (kind, object_name), doc in by_key(render(K8S / "overlays" / name)).items():
            if kind in ("Deployment", "StatefulSet"):
                for spec in doc["spec"]["template"]["spec"]["containers"]:
                    for variable in env_of(spec):
                        found[variable] = f"deploy/k8s/overlays/{name} {object_name}"
    for service_name, service in compose()["services"].items():
        for variable in service.get("environment", {}):
            found[variable] = f"docker-compose.yml {service_name}"
    return found


def test_every_variable_the_deployments_set_is_a_setting() -> None:
    settings = {f"ISC_{name.upper()}" for name in Settings.model_fields}
    variables = all_isc_variables()
    assert variables, "no ISC_* variable found"
    for variable, where in variables.items():
        assert variable in settings, f"{variable} ({where}) is not a setting"


def test_compose_runs_a_gateway_pointed_at_several_ready_workers() -> None:
    services = compose()["services"]
    worker, gateway = services["worker"], services["gateway"]
    assert worker["deploy"]["replicas"] >= 2
    host, port = gateway["environment"]["ISC_WORKER_DNS"].split(":")
    assert host == "worker" and worker["command"][-2:] == ["--port", port]
    assert f"127.0.0.1:{port}/v1/health/ready" in " ".join(worker["healthcheck"]["test"])
    assert "/health/ready" in " ".join(gateway["healthcheck"]["test"])
    assert "ISC_WORKER_URL" not in gateway["environment"]  # one or the other, not both
    assert gateway["environment"]["ISC_QDRANT_URL"] == "http://qdrant:6333"
    assert "qdrant" in services and "qdrant" in gateway["depends_on"]
