"""Prints a CloudFormation/SAM YAML template as JSON, with short-form intrinsic tags
(`!Ref x`, `!If [...]`, `!GetAtt a.b`) turned into their long form (`{"Ref": "x"}`,
`{"Fn::If": [...]}`, `{"Fn::GetAtt": ["a", "b"]}`), so that tests/template.rs can
assert on the template's properties. Usage: python3 template_json.py template.yaml
"""
import json
import sys

try:
    import yaml
except ImportError:
    # Exit status 3 tells tests/template.rs that a tool is missing, not that the template is bad.
    print(f"PyYAML is not installed for {sys.executable}; run the tests with scripts/test.sh", file=sys.stderr)
    sys.exit(3)


def intrinsic(loader, suffix, node):
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


class Loader(yaml.SafeLoader):
    pass


Loader.add_multi_constructor("!", intrinsic)

with open(sys.argv[1], encoding="utf-8") as f:
    json.dump(yaml.load(f, Loader=Loader), sys.stdout, default=str)
