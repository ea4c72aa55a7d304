"""The SAM templates: cfn-lint clean, and saying what the layer and the demo stack promise.

(`sam validate --lint` and `sam build` of both templates run in CI: .ci/run.)
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = [ROOT / "template.yaml", ROOT / "sam" / "demo" / "template.yaml"]


class _CloudFormationLoader(yaml.SafeLoader):
    """Reads !Ref, !Sub, !GetAtt... as plain values."""


_CloudFormationLoader.add_multi_constructor("!", lambda loader, suffix, node: (
    loader.construct_scalar(node) if isinstance(node, yaml.ScalarNode) else
    loader.construct_sequence(node) if isinstance(node, yaml.SequenceNode) else loader.construct_mapping(node)))


def load(path: Path) -> dict:
    return yaml.load(path.read_text(), Loader=_CloudFormationLoader)


def test_cfn_lint_passes_on_both_templates() -> None:
    command = [sys.executable, "-c", "import sys; from cfnlint.runner import main; sys.exit(main())"]
    result = subprocess.run([*command, *map(str, TEMPLATES)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_layer_template_publishes_one_layer_for_every_runtime_and_architecture() -> None:
    template = load(ROOT / "template.yaml")
    layer = template["Resources"]["AppProtectLayer"]
    assert layer["Type"] == "AWS::Serverless::LayerVersion"
    assert layer["Metadata"] == {"BuildMethod": "makefile"}
    properties = layer["Properties"]
    assert properties["CompatibleRuntimes"] == ["python3.10", "python3.11", "python3.12", "python3.13"]
    assert properties["CompatibleArchitectures"] == ["x86_64", "arm64"]
    assert properties["LicenseInfo"] == "Apache-2.0" and properties["RetentionPolicy"] == "Retain"
    assert (ROOT / properties["ContentUri"] / "Makefile").read_text().count("build-AppProtectLayer:") == 1
    assert template["Outputs"]["LayerArn"]["Value"] == "AppProtectLayer"


def test_demo_stack_wires_the_function_to_the_layer_and_detections_to_logs_topic_dashboard_alarm() -> None:
    resources = load(ROOT / "sam" / "demo" / "template.yaml")["Resources"]
    function = resources["NotesFunction"]["Properties"]
    assert function["Layers"] == ["AppProtectLayer"]
    variables = function["Environment"]["Variables"]
    assert variables["AWS_LAMBDA_EXEC_WRAPPER"] == "/opt/app-protect"
    assert variables["APP_PROTECT_MODE"] == "Mode" and variables["APP_PROTECT_EVENT_BUS"] == "default"
    assert (ROOT / "sam" / "demo" / function["CodeUri"] / "app.py").exists()
    rule = resources["DetectionsRule"]["Properties"]
    assert rule["EventPattern"]["source"] == ["app-protect"]
    assert rule["EventPattern"]["detail-type"] == ["App Protect Detection"]
    assert {target["Id"] for target in rule["Targets"]} == {"log-group", "topic"}
    assert resources["Dashboard"]["Type"] == "AWS::CloudWatch::Dashboard"
    assert "Blocked" in resources["Dashboard"]["Properties"]["DashboardBody"]
    alarm = resources["BlocksAlarm"]["Properties"]
    assert alarm["MetricName"] == resources["BlocksMetricFilter"]["Properties"]["MetricTransformations"][0][
        "MetricName"]


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda path: path.relative_to(ROOT).as_posix())
def test_templates_name_only_python_runtimes_the_layer_supports(template: Path) -> None:
    for resource in load(template)["Resources"].values():
        runtime = resource.get("Properties", {}).get("Runtime")
        assert runtime in (None, "python3.10", "python3.11", "python3.12", "python3.13")
