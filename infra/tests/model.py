"""Loads template.yaml (SAM) and infra/terraform/modules/shopstream (HCL) into plain Python
structures and normalises references, so test_parity.py can compare the two.

Normalised references look alike on both sides:
  SAM  !GetAtt LakeBucket.Arn            TF  ${aws_s3_bucket.lake.arn}      ->  <LakeBucket>
  SAM  !Sub ${LakeBucket.Arn}/silver/*   TF  ${aws_s3_bucket.lake.arn}/silver/*  ->  <LakeBucket>/silver/*
  SAM  !Ref StreamBatchSize              TF  ${var.stream_batch_size}       ->  <param:StreamBatchSize>
  SAM  shopstream-${EnvironmentName}-x   TF  ${local.prefix}-x              ->  shopstream-<env>-x
"""

from __future__ import annotations

import re
from pathlib import Path

import hcl2
import yaml
from hcl2.utils import SerializationOptions

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
MODULE = ROOT / "infra" / "terraform" / "modules" / "shopstream"
EXAMPLES = ROOT / "infra" / "terraform" / "examples"

# --------------------------------------------------------------------------- SAM / CloudFormation


class _CfnLoader(yaml.SafeLoader):
    pass


def _cfn_tag(loader: yaml.Loader, suffix: str, node: yaml.Node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    if suffix == "Condition":
        return {"Condition": value}
    return {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _cfn_tag)


def load_sam() -> dict:
    with TEMPLATE.open() as f:
        return yaml.load(f, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass


# --------------------------------------------------------------------------- Terraform

_HCL_OPTIONS = SerializationOptions(with_comments=False, strip_string_quotes=True, explicit_blocks=True)


def _unquote(label: str) -> str:
    return label[1:-1] if len(label) >= 2 and label[0] == label[-1] == '"' else label


def _clean(value):
    """Drops the parser's markers and unquotes keys."""
    if isinstance(value, dict):
        return {_unquote(k): _clean(v) for k, v in value.items() if not k.startswith("__")}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


class Terraform:
    def __init__(self, directory: Path = MODULE):
        self.directory = directory
        self.resources: dict[str, dict] = {}
        self.data: dict[str, dict] = {}
        self.variables: dict[str, dict] = {}
        self.outputs: dict[str, dict] = {}
        self.locals: dict[str, object] = {}
        self.text = ""
        for path in sorted(directory.glob("*.tf")):
            text = path.read_text()
            self.text += text
            doc = _clean(hcl2.loads(text, serialization_options=_HCL_OPTIONS))
            for block in doc.get("resource", []):
                for rtype, named in block.items():
                    for name, body in named.items():
                        self.resources[f"{rtype}.{name}"] = body
            for block in doc.get("data", []):
                for dtype, named in block.items():
                    for name, body in named.items():
                        self.data[f"{dtype}.{name}"] = body
            for block in doc.get("variable", []):
                for name, body in block.items():
                    self.variables[name] = body
            for block in doc.get("output", []):
                for name, body in block.items():
                    self.outputs[name] = body
            for block in doc.get("locals", []):
                self.locals.update(block)

    def of_type(self, rtype: str) -> dict[str, dict]:
        prefix = rtype + "."
        return {k: v for k, v in self.resources.items() if k.startswith(prefix)}


def block(body: dict, name: str) -> dict:
    """The single nested block `name` (static), or {}."""
    blocks = body.get(name) or []
    return blocks[0] if blocks else {}


def dynamic_blocks(body: dict, name: str) -> list[dict]:
    out = []
    for dyn in body.get("dynamic", []) or []:
        if name in dyn:
            out.extend(dyn[name].get("content", []))
    return out


def all_blocks(body: dict, name: str) -> list[dict]:
    return list(body.get(name) or []) + dynamic_blocks(body, name)


# --------------------------------------------------------------------------- names and conversions


def snake(name: str) -> str:
    s = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name)
    s = re.sub(r"(?<=[A-Z])([A-Z][a-z])", r"_\1", s)
    return s.lower()


# SAM parameter -> Terraform variable, where the name is not simply snake_case.
PARAMETER_RENAMES = {
    "KafkaSubnetIdA": "kafka_subnet_ids",
    "KafkaSubnetIdB": "kafka_subnet_ids",
}
TF_ONLY_VARIABLES = {"lambda_artifacts_dir", "tags"}


def variable_for(parameter: str) -> str:
    return PARAMETER_RENAMES.get(parameter, snake(parameter))


def parameter_for_variable(sam: dict) -> dict[str, str]:
    out = {}
    for param in sam["Parameters"]:
        out.setdefault(variable_for(param), param)
    return out


def sam_default(sam: dict, param: str):
    spec = sam["Parameters"][param]
    default = spec.get("Default")
    if spec["Type"] == "Number":
        return float(default)
    if spec["Type"] == "CommaDelimitedList":
        return [] if default in ("", None) else [x.strip() for x in str(default).split(",")]
    if spec.get("AllowedValues") == ["true", "false"]:
        return default == "true"
    return default


def tf_default(tf: Terraform, variable: str):
    body = tf.variables[variable]
    if "default" not in body:
        return None
    value = body["default"]
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    return value


# --------------------------------------------------------------------------- reference normalisation


class Normaliser:
    """Turns SAM intrinsics and Terraform interpolations into comparable strings."""

    def __init__(self, sam: dict, tf: Terraform, correspondence: dict[str, list[str]]):
        self.template = sam
        self.tf = tf
        self.address_to_sam = {}
        for sam_id, addresses in correspondence.items():
            for address in addresses:
                self.address_to_sam.setdefault(address, sam_id)
        self.var_to_param = parameter_for_variable(sam)

    # SAM ------------------------------------------------------------------
    def sam(self, value):
        if isinstance(value, dict) and len(value) == 1:
            (key, arg), = value.items()
            if key == "Ref":
                return self._sam_name(arg)
            if key == "Fn::GetAtt":
                return f"<{arg[0]}>"
            if key == "Fn::Sub":
                text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
                return re.sub(r"\$\{([^}!]+)\}", lambda m: self._sub_var(m.group(1), extra), text)
            if key == "Fn::Join":
                return arg[0].join(str(self.sam(x)) for x in arg[1])
            if key in ("Fn::Select", "Fn::Split"):
                return "<expr>"
            if key == "Fn::If":
                return {"if": arg[0], "then": self.sam(arg[1]), "else": self.sam(arg[2])}
        if isinstance(value, dict):
            return {k: self.sam(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.sam(v) for v in value]
        return value

    def _sam_name(self, name: str) -> str:
        if name == "EnvironmentName":
            return "<env>"
        if name.startswith("AWS::"):
            return "<aws>" if name != "AWS::NoValue" else "<novalue>"
        if name in self.template.get("Parameters", {}):
            return f"<param:{name}>"
        return f"<{name}>"

    def _sub_var(self, var: str, extra: dict) -> str:
        if var in extra:
            return str(self.sam(extra[var]))
        if "." in var and not var.startswith("AWS::"):
            return f"<{var.split('.', 1)[0]}>"
        return self._sam_name(var)

    # Terraform ------------------------------------------------------------
    def tf_value(self, value):
        if isinstance(value, str):
            return self._tf_string(value)
        if isinstance(value, dict):
            return {k: self.tf_value(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.tf_value(v) for v in value]
        return value

    def _tf_string(self, text: str):
        text = text.replace("${local.prefix}", "shopstream-<env>")
        text = text.replace("${local.account_id}", "<aws>").replace("${local.region}", "<aws>")
        text = text.replace("${local.partition}", "<aws>")

        def ref(m: re.Match) -> str:
            expr = m.group(1).strip()
            var = re.fullmatch(r"var\.([a-z0-9_]+)", expr)
            if var:
                param = self.var_to_param.get(var.group(1))
                return f"<param:{param}>" if param else f"<var:{var.group(1)}>"
            res = re.fullmatch(r"((?:aws|data\.aws)_[a-z0-9_]+\.[a-z0-9_]+)(?:\[0\])?\.[a-z_]+", expr)
            if res:
                address = res.group(1)
                return f"<{self.address_to_sam.get(address, address)}>"
            if expr.startswith("local."):
                return f"<{expr}>"
            return "<expr>"

        return re.sub(r"\$\{([^{}]*)\}", ref, text)


def strip_log_suffix(text: str) -> str:
    return text[:-2] if isinstance(text, str) and text.endswith(":*") else text
