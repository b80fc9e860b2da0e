"""Prints, as JSON, how many CloudFormation resources template.yaml creates once SAM has
expanded it (each function brings its role, permissions and event mappings), by type.
SAM's own translator does the expansion, offline; the bench records the count against
CloudFormation's limit of 500 resources per stack."""

import json
import os
import sys
from collections import Counter

from cfnlint.decode import decode
from samtranslator.translator.transform import transform

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")


class NoManagedPolicies:
    """The translator asks IAM for managed policy ARNs; the template names none."""

    def load(self):
        return {}


def main(path):
    template, errors = decode(path)
    if errors:
        sys.exit(f"{path} does not parse: {errors}")
    # Local code (sam build packages it) is an S3 object to the translator.
    template.setdefault("Globals", {}).setdefault("Function", {})["CodeUri"] = "s3://bench/code.zip"
    for resource in template["Resources"].values():
        if resource.get("Type") == "AWS::Serverless::Function":
            resource.setdefault("Properties", {})["CodeUri"] = "s3://bench/code.zip"
    expanded = transform(template, {}, NoManagedPolicies())
    types = Counter(r["Type"] for r in expanded["Resources"].values())
    print(json.dumps({
        "declared": len(template["Resources"]),
        "resources": sum(types.values()),
        "by_type": dict(types.most_common()),
    }))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "template.yaml")
