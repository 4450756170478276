#!/usr/bin/env python3
"""Writes test/integration/testdata/invalid/: malformed and invalid manifests,
each with the error the API server must answer, in upstream's wording
(../shared/spec/batch-v1.md §1, k8s.io/apimachinery field errors).

Each file starts with comment lines:
  # resource: jobs|cronjobs        where it is POSTed (as application/yaml, fieldValidation=Strict);
                                 or an API path (/apis/..., {ns} for the test's namespace)
  # status: 400|413|422            the HTTP status
  # want: TEXT                     a substring of the error message (one or more lines)
then the body, sent byte for byte. Regenerate with: python3 hack/gen-invalid-corpus.py
"""
import copy
import json
import os
import shutil

import yaml

OUT = os.path.join(os.path.dirname(__file__), "..", "test", "integration", "testdata", "invalid")

JOB = {
    "apiVersion": "batch/v1",
    "kind": "Job",
    "metadata": {"name": "corpus"},
    "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [
        {"name": "c", "image": "busybox", "command": ["true"]}]}}},
}
CRONJOB = {
    "apiVersion": "batch/v1",
    "kind": "CronJob",
    "metadata": {"name": "corpus"},
    "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": {"spec": {
        "restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox", "command": ["true"]}]}}}}},
}

cases = []  # (slug, resource, status, wants, body)


def add(slug, resource, status, wants, body):
    if isinstance(wants, str):
        wants = [wants]
    if not isinstance(body, str):
        body = yaml.safe_dump(body, sort_keys=False)
    cases.append((slug, resource, status, wants, body))


def job(mutate):
    j = copy.deepcopy(JOB)
    mutate(j)
    return j


def cronjob(mutate):
    c = copy.deepcopy(CRONJOB)
    mutate(c)
    return c


def spec(j):
    return j["spec"]


def pod(j):
    return j["spec"]["template"]["spec"]


def ctr(j):
    return pod(j)["containers"][0]


def indexed(j, completions=3):
    spec(j)["completionMode"] = "Indexed"
    spec(j)["completions"] = completions


NONNEG = "must be greater than or equal to 0"

# --- Job: numbers that must not be negative
for field in ["parallelism", "completions", "activeDeadlineSeconds", "backoffLimit", "ttlSecondsAfterFinished"]:
    for v in [-1, -2, -100, -2147483648]:
        add(f"job-{field}-{v}", "jobs", 422, f"spec.{field}: Invalid value: {v}: {NONNEG}",
            job(lambda j: spec(j).__setitem__(field, v)))
for v in [-1, -7]:
    def m(j, v=v):
        indexed(j)
        spec(j)["backoffLimitPerIndex"] = v
    add(f"job-backoffLimitPerIndex-{v}", "jobs", 422, f"spec.backoffLimitPerIndex: Invalid value: {v}: {NONNEG}", job(m))

    def m2(j, v=v):
        indexed(j)
        spec(j)["backoffLimitPerIndex"] = 1
        spec(j)["maxFailedIndexes"] = v
    add(f"job-maxFailedIndexes-{v}", "jobs", 422, f"spec.maxFailedIndexes: Invalid value: {v}: {NONNEG}", job(m2))

# --- Job: Indexed-only fields and their rules
for v in [0, 1, 5]:
    add(f"job-backoffLimitPerIndex-nonindexed-{v}", "jobs", 422,
        f"spec.backoffLimitPerIndex: Invalid value: {v}: requires indexed completion mode",
        job(lambda j, v=v: spec(j).__setitem__("backoffLimitPerIndex", v)))


def m(j):
    indexed(j)
    spec(j)["maxFailedIndexes"] = 1
add("job-maxFailedIndexes-without-backoffLimitPerIndex", "jobs", 422,
    "spec.backoffLimitPerIndex: Required value: when maxFailedIndexes is specified", job(m))
for v in [4, 10, 1000]:
    def m(j, v=v):
        indexed(j)
        spec(j)["backoffLimitPerIndex"] = 1
        spec(j)["maxFailedIndexes"] = v
    add(f"job-maxFailedIndexes-over-completions-{v}", "jobs", 422,
        f"spec.maxFailedIndexes: Invalid value: {v}: must be less than or equal to completions", job(m))
# (completionMode alone is valid: with completions and parallelism both unset, both default to 1.)
add("job-indexed-without-completions", "jobs", 422, "spec.completions: Required value: when completion mode is Indexed",
    job(lambda j: spec(j).update({"completionMode": "Indexed", "parallelism": 2})))
for v in [100001, 2000000]:
    def m(j, v=v):
        indexed(j, 10)
        spec(j)["parallelism"] = v
    add(f"job-indexed-parallelism-{v}", "jobs", 422,
        f"spec.parallelism: Invalid value: {v}: must be less than or equal to 100000 when completion mode is Indexed", job(m))
for v in ["Foo", "indexed", "nonIndexed", "INDEXED", "", "Indexed "]:
    add(f"job-completionMode-{json.dumps(v)}", "jobs", 422,
        f'spec.completionMode: Unsupported value: {json.dumps(v)}: supported values: "NonIndexed", "Indexed"',
        job(lambda j, v=v: spec(j).__setitem__("completionMode", v)))
for v in ["Always", "Never", "failed", ""]:
    add(f"job-podReplacementPolicy-{json.dumps(v)}", "jobs", 422, f"spec.podReplacementPolicy: Unsupported value: {json.dumps(v)}",
        job(lambda j, v=v: spec(j).__setitem__("podReplacementPolicy", v)))

# --- Job: restartPolicy
for v in ["Always", None]:
    def m(j, v=v):
        if v is None:
            del pod(j)["restartPolicy"]
        else:
            pod(j)["restartPolicy"] = v
    add(f"job-restartPolicy-{v or 'missing'}", "jobs", 422,
        'spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"', job(m))
for v in ["Sometimes", "never", "OnFail"]:
    add(f"job-restartPolicy-{v}", "jobs", 422, f'spec.template.spec.restartPolicy: Unsupported value: "{v}"',
        job(lambda j, v=v: pod(j).__setitem__("restartPolicy", v)))

# --- Job: podFailurePolicy
EXIT1 = {"action": "FailJob", "onExitCodes": {"operator": "In", "values": [1]}}


def pfp(rules):
    def m(j):
        spec(j)["podFailurePolicy"] = {"rules": rules}
    return m


def pfp_rule(**over):
    r = copy.deepcopy(EXIT1)
    for k, v in over.items():
        if v is None:
            r.pop(k, None)
        else:
            r[k] = v
    return r


def m(j):
    pfp([EXIT1])(j)
    pod(j)["restartPolicy"] = "OnFailure"
add("job-pfp-restartPolicy-OnFailure", "jobs", 422,
    'spec.template.spec.restartPolicy: Invalid value: "OnFailure": only "Never" is supported when podFailurePolicy is specified', job(m))


def m(j):
    pfp([EXIT1])(j)
    spec(j)["podReplacementPolicy"] = "TerminatingOrFailed"
add("job-pfp-podReplacementPolicy", "jobs", 422,
    'spec.podReplacementPolicy: Unsupported value: "TerminatingOrFailed": supported values: "Failed"', job(m))
add("job-pfp-action-missing", "jobs", 422, "spec.podFailurePolicy.rules[0].action: Required value",
    job(pfp([pfp_rule(action=None)])))
for v in ["Retry", "failjob", "Restart"]:
    add(f"job-pfp-action-{v}", "jobs", 422, f'spec.podFailurePolicy.rules[0].action: Unsupported value: "{v}"',
        job(pfp([pfp_rule(action=v)])))
add("job-pfp-both-requirements", "jobs", 422,
    "spec.podFailurePolicy.rules[0]: Invalid value: specifying both OnExitCodes and OnPodConditions is not supported",
    job(pfp([pfp_rule(onPodConditions=[{"type": "DisruptionTarget"}])])))
add("job-pfp-no-requirement", "jobs", 422,
    "spec.podFailurePolicy.rules[0]: Invalid value: specifying one of OnExitCodes and OnPodConditions is required",
    job(pfp([pfp_rule(onExitCodes=None)])))
add("job-pfp-failindex-without-backoffLimitPerIndex", "jobs", 422,
    'spec.podFailurePolicy.rules[0].action: Invalid value: "FailIndex": requires the backoffLimitPerIndex to be set',
    job(pfp([pfp_rule(action="FailIndex")])))
add("job-pfp-too-many-rules", "jobs", 422, "spec.podFailurePolicy.rules: Too many: 21: must have at most 20 items",
    job(pfp([copy.deepcopy(EXIT1) for _ in range(21)])))
add("job-pfp-values-empty", "jobs", 422, ["spec.podFailurePolicy.rules[0].onExitCodes.values", "at least one value is required"],
    job(pfp([pfp_rule(onExitCodes={"operator": "In", "values": []})])))
for vals in [[2, 1], [5, 3, 4]]:
    add(f"job-pfp-values-unordered-{'-'.join(map(str, vals))}", "jobs", 422,
        ["spec.podFailurePolicy.rules[0].onExitCodes.values", "must be ordered"],
        job(pfp([pfp_rule(onExitCodes={"operator": "NotIn", "values": vals})])))
add("job-pfp-values-duplicate", "jobs", 422, "spec.podFailurePolicy.rules[0].onExitCodes.values[1]: Duplicate value: 1",
    job(pfp([pfp_rule(onExitCodes={"operator": "In", "values": [1, 1]})])))
add("job-pfp-values-zero-in", "jobs", 422, ["spec.podFailurePolicy.rules[0].onExitCodes.values[0]", "must not be 0 for the In operator"],
    job(pfp([pfp_rule(onExitCodes={"operator": "In", "values": [0]})])))
add("job-pfp-operator-unknown", "jobs", 422, 'spec.podFailurePolicy.rules[0].onExitCodes.operator: Unsupported value: "Equals"',
    job(pfp([pfp_rule(onExitCodes={"operator": "Equals", "values": [1]})])))
add("job-pfp-container-unknown", "jobs", 422,
    ["spec.podFailurePolicy.rules[0].onExitCodes.containerName", "must be one of the container or initContainer names in the pod template"],
    job(pfp([pfp_rule(onExitCodes={"containerName": "nope", "operator": "In", "values": [1]})])))
add("job-pfp-condition-status", "jobs", 422, 'spec.podFailurePolicy.rules[0].onPodConditions[0].status: Unsupported value: "Maybe"',
    job(pfp([pfp_rule(onExitCodes=None, onPodConditions=[{"type": "DisruptionTarget", "status": "Maybe"}])])))

# --- Job: successPolicy


def sp(rules, idx=True, completions=3):
    def m(j):
        if idx:
            indexed(j, completions)
        spec(j)["successPolicy"] = {"rules": rules}
    return m


add("job-successPolicy-nonindexed", "jobs", 422, ["spec.successPolicy", "requires indexed completion mode"],
    job(sp([{"succeededCount": 1}], idx=False)))
add("job-successPolicy-no-rules", "jobs", 422,
    "spec.successPolicy.rules: Required value: at least one rules must be specified when the successPolicy is specified", job(sp([])))
add("job-successPolicy-empty-rule", "jobs", 422,
    "spec.successPolicy.rules[0]: Required value: at least one of succeededCount or succeededIndexes must be specified", job(sp([{}])))
for idx, msg in [("x", 'cannot convert string to integer for index: "x"'), ("1,x", 'cannot convert string to integer for index: "x"'),
                 ("2,1", "non-increasing order, previous: 2, current: 1"), ("0-1-2", 'the fragment "0-1-2" violates the requirement'),
                 ("99", 'too large index: "99"'), ("0,0", "non-increasing order, previous: 0, current: 0")]:
    add(f"job-successPolicy-indexes-{idx}", "jobs", 422,
        ["spec.successPolicy.rules[0].succeededIndexes", "error parsing succeededIndexes: " + msg], job(sp([{"succeededIndexes": idx}])))
for v in [-1, -10]:
    add(f"job-successPolicy-count-{v}", "jobs", 422, f"spec.successPolicy.rules[0].succeededCount: Invalid value: {v}: {NONNEG}",
        job(sp([{"succeededCount": v}])))
for v in [4, 100]:
    add(f"job-successPolicy-count-over-{v}", "jobs", 422,
        f"spec.successPolicy.rules[0].succeededCount: Invalid value: {v}: must be less than or equal to 3 (the number of specified completions)",
        job(sp([{"succeededCount": v}])))
add("job-successPolicy-too-many-rules", "jobs", 422, "spec.successPolicy.rules: Too many: 21: must have at most 20 items",
    job(sp([{"succeededCount": 1} for _ in range(21)])))

# --- Job: selectors and managedBy


def m(j):
    spec(j)["manualSelector"] = True
    spec(j)["selector"] = {"matchLabels": {"app": "a"}}
    j["spec"]["template"]["metadata"] = {"labels": {"app": "b"}}
add("job-manual-selector-mismatch", "jobs", 422,
    'spec.template.metadata.labels: Invalid value: {"app":"b"}: `selector` does not match template `labels`', job(m))


def m(j):
    spec(j)["selector"] = {"matchLabels": {"app": "a"}}
    j["spec"]["template"]["metadata"] = {"labels": {"app": "a"}}
add("job-selector-not-generated", "jobs", 422, ["spec.selector: Invalid value: ", "`selector` not auto-generated"], job(m))
add("job-selector-bad-operator", "jobs", 422, 'spec.selector.matchExpressions[0].operator: Invalid value: "Like"',
    job(lambda j: spec(j).update({"manualSelector": True, "selector": {"matchExpressions": [{"key": "a", "operator": "Like", "values": ["x"]}]}})))
add("job-managedBy-too-long", "jobs", 422, "spec.managedBy: Too long: may not be more than 63 bytes",
    job(lambda j: spec(j).__setitem__("managedBy", "example.com/" + "x" * 60)))
for v, shown in [("no-domain", "no-domain"), ("/leading", "/leading"), ("Example.com/x", "Example.com")]:
    # An invalid domain is reported with the domain alone (apimachinery's IsDomainPrefixedPath).
    add(f"job-managedBy-{v.strip('/')}", "jobs", 422, f'spec.managedBy: Invalid value: "{shown}"',
        job(lambda j, v=v: spec(j).__setitem__("managedBy", v)))

# --- metadata (Jobs and CronJobs alike)
SUBDOMAIN = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"
for name in ["My_Job", "UPPER", "-lead", "trail-", "a..b", "with space", "ünïcode", "dot.", "a_b", "x!"]:
    add(f"job-name-{name}", "jobs", 422, f"metadata.name: Invalid value: {json.dumps(name, ensure_ascii=False)}: {SUBDOMAIN}",
        job(lambda j, name=name: j["metadata"].__setitem__("name", name)))
add("job-name-too-long", "jobs", 422, "must be no more than 253 characters", job(lambda j: j["metadata"].__setitem__("name", "a" * 254)))
add("job-name-missing", "jobs", 422, "metadata.name: Required value: name or generateName is required",
    job(lambda j: j["metadata"].pop("name")))


def m(j):
    j["metadata"]["name"] = "a" * 60
    indexed(j, 1000)
add("job-indexed-pod-name-too-long", "jobs", 422, "will not able to create pod with invalid DNS label: " + "a" * 60 + "-999", job(m))
LABELKEY = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
for key in ["bad key", "-lead", "trail-", "a/b/c", "x" * 64, "UPPER.io/x"]:
    add(f"job-label-key-{key[:20]}", "jobs", 422, f"metadata.labels: Invalid value: {json.dumps(key)}",
        job(lambda j, key=key: j["metadata"].__setitem__("labels", {key: "v"})))
for val in ["bad value", "-lead", "x" * 64, "a/b"]:
    add(f"job-label-value-{val[:20]}", "jobs", 422, f"metadata.labels: Invalid value: {json.dumps(val)}",
        job(lambda j, val=val: j["metadata"].__setitem__("labels", {"k": val})))
for key in ["bad key", "a/b/c", "-x"]:
    add(f"job-annotation-key-{key}", "jobs", 422, f"metadata.annotations: Invalid value: {json.dumps(key)}",
        job(lambda j, key=key: j["metadata"].__setitem__("annotations", {key: "v"})))
add("job-annotations-too-big", "jobs", 422, "metadata.annotations: Too long: may not be more than 262144 bytes",
    job(lambda j: j["metadata"].__setitem__("annotations", {"big": "x" * 300000})))
for key in ["bad key", "-x"]:
    add(f"job-template-label-{key}", "jobs", 422, f"spec.template.metadata.labels: Invalid value: {json.dumps(key)}",
        job(lambda j, key=key: j["spec"]["template"].__setitem__("metadata", {"labels": {key: "v"}})))

# --- pod template
add("pod-no-containers", "jobs", 422, "spec.template.spec.containers: Required value", job(lambda j: pod(j).__setitem__("containers", [])))
add("pod-image-missing", "jobs", 422, "spec.template.spec.containers[0].image: Required value", job(lambda j: ctr(j).pop("image")))
add("pod-container-name-missing", "jobs", 422, "spec.template.spec.containers[0].name: Required value", job(lambda j: ctr(j).pop("name")))
for name in ["Bad_Name", "UPPER", "a.b", "-x", "x" * 64]:
    add(f"pod-container-name-{name[:20]}", "jobs", 422, f"spec.template.spec.containers[0].name: Invalid value: {json.dumps(name)}",
        job(lambda j, name=name: ctr(j).__setitem__("name", name)))
add("pod-container-name-duplicate", "jobs", 422, 'spec.template.spec.containers[1].name: Duplicate value: "c"',
    job(lambda j: pod(j)["containers"].append(copy.deepcopy(ctr(j)))))
add("pod-init-container-name-clash", "jobs", 422, 'spec.template.spec.initContainers[0].name: Duplicate value: "c"',
    job(lambda j: pod(j).__setitem__("initContainers", [copy.deepcopy(ctr(j))])))
for v in ["Sometimes", "always", ""]:
    if v == "":
        continue
    add(f"pod-imagePullPolicy-{v}", "jobs", 422,
        f'spec.template.spec.containers[0].imagePullPolicy: Unsupported value: "{v}": supported values: "Always", "IfNotPresent", "Never"',
        job(lambda j, v=v: ctr(j).__setitem__("imagePullPolicy", v)))
for r in ["cpu", "memory"]:
    for v in ["-1", "-500m"]:
        add(f"pod-requests-{r}{v}", "jobs", 422,
            f'spec.template.spec.containers[0].resources.requests[{r}]: Invalid value: "{v}": {NONNEG}',
            job(lambda j, r=r, v=v: ctr(j).__setitem__("resources", {"requests": {r: v}})))
        add(f"pod-limits-{r}{v}", "jobs", 422,
            f'spec.template.spec.containers[0].resources.limits[{r}]: Invalid value: "{v}": {NONNEG}',
            job(lambda j, r=r, v=v: ctr(j).__setitem__("resources", {"limits": {r: v}})))
add("pod-requests-over-limits-cpu", "jobs", 422,
    'spec.template.spec.containers[0].resources.requests: Invalid value: "2": must be less than or equal to cpu limit of 1',
    job(lambda j: ctr(j).__setitem__("resources", {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}})))
add("pod-requests-over-limits-memory", "jobs", 422,
    'spec.template.spec.containers[0].resources.requests: Invalid value: "2Gi": must be less than or equal to memory limit of 1Gi',
    job(lambda j: ctr(j).__setitem__("resources", {"requests": {"memory": "2Gi"}, "limits": {"memory": "1Gi"}})))
for q, why in [("1x", "quantities must match the regular expression"), ("one", "quantities must match the regular expression"),
               ("1.2.3", "quantities must match the regular expression"), ("--1", "unable to parse quantity's suffix"),
               ("1e", "unable to parse quantity's suffix"), ("1 Gi", "")]:
    add(f"pod-quantity-{q.replace(' ', '_')}", "jobs", 400, ['Job in version "v1" cannot be handled as a Job', why],
        job(lambda j, q=q: ctr(j).__setitem__("resources", {"limits": {"cpu": q}})))
add("pod-volumeMount-unknown-volume", "jobs", 422, 'spec.template.spec.containers[0].volumeMounts[0].name: Not found: "nope"',
    job(lambda j: ctr(j).__setitem__("volumeMounts", [{"name": "nope", "mountPath": "/x"}])))
add("pod-volumeMount-no-path", "jobs", 422, "spec.template.spec.containers[0].volumeMounts[0].mountPath: Required value",
    job(lambda j: (pod(j).__setitem__("volumes", [{"name": "v", "emptyDir": {}}]), ctr(j).__setitem__("volumeMounts", [{"name": "v"}]))))
add("pod-volume-duplicate", "jobs", 422, 'spec.template.spec.volumes[1].name: Duplicate value: "v"',
    job(lambda j: pod(j).__setitem__("volumes", [{"name": "v", "emptyDir": {}}, {"name": "v", "emptyDir": {}}])))
add("pod-volume-name-invalid", "jobs", 422, 'spec.template.spec.volumes[0].name: Invalid value: "Bad_Vol"',
    job(lambda j: pod(j).__setitem__("volumes", [{"name": "Bad_Vol", "emptyDir": {}}])))
for v in [0, -5]:
    add(f"pod-activeDeadlineSeconds-{v}", "jobs", 422,
        f"spec.template.spec.activeDeadlineSeconds: Invalid value: {v}: must be between 1 and 2147483647, inclusive",
        job(lambda j, v=v: pod(j).__setitem__("activeDeadlineSeconds", v)))
for v in ["Bad", "clusterfirst"]:
    add(f"pod-dnsPolicy-{v}", "jobs", 422, f'spec.template.spec.dnsPolicy: Unsupported value: "{v}"',
        job(lambda j, v=v: pod(j).__setitem__("dnsPolicy", v)))
add("pod-toleration-operator", "jobs", 422, 'spec.template.spec.tolerations[0].operator: Unsupported value: "Maybe"',
    job(lambda j: pod(j).__setitem__("tolerations", [{"key": "k", "operator": "Maybe", "value": "v"}])))
add("pod-toleration-effect", "jobs", 422, 'spec.template.spec.tolerations[0].effect: Unsupported value: "Sometimes"',
    job(lambda j: pod(j).__setitem__("tolerations", [{"key": "k", "operator": "Equal", "value": "v", "effect": "Sometimes"}])))
add("pod-nodeSelector-key", "jobs", 422, 'spec.template.spec.nodeSelector: Invalid value: "bad key"',
    job(lambda j: pod(j).__setitem__("nodeSelector", {"bad key": "v"})))
for p in [0, 70000, -1]:
    want = ("spec.template.spec.containers[0].ports[0].containerPort: Required value" if p == 0 else
            f"spec.template.spec.containers[0].ports[0].containerPort: Invalid value: {p}: must be between 1 and 65535, inclusive")
    add(f"pod-containerPort-{p}", "jobs", 422, want, job(lambda j, p=p: ctr(j).__setitem__("ports", [{"containerPort": p}])))
add("pod-port-protocol", "jobs", 422, 'spec.template.spec.containers[0].ports[0].protocol: Unsupported value: "HTTP"',
    job(lambda j: ctr(j).__setitem__("ports", [{"containerPort": 80, "protocol": "HTTP"}])))
for h in ["Bad_Host", "-x", "a.b"]:
    add(f"pod-hostname-{h}", "jobs", 422, f'spec.template.spec.hostname: Invalid value: "{h}"',
        job(lambda j, h=h: pod(j).__setitem__("hostname", h)))
add("pod-env-fieldRef-path", "jobs", 422, 'spec.template.spec.containers[0].env[0].valueFrom.fieldRef.fieldPath: Unsupported value: "metadata.foo"',
    job(lambda j: ctr(j).__setitem__("env", [{"name": "X", "valueFrom": {"fieldRef": {"fieldPath": "metadata.foo"}}}])))
add("pod-env-name-missing", "jobs", 422, "spec.template.spec.containers[0].env[0].name: Required value",
    job(lambda j: ctr(j).__setitem__("env", [{"value": "v"}])))
add("pod-env-two-sources", "jobs", 422, ["spec.template.spec.containers[0].env[0].valueFrom", "may not have more than one field specified at a time"],
    job(lambda j: ctr(j).__setitem__("env", [{"name": "X", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"},
                                                                         "configMapKeyRef": {"name": "c", "key": "k"}}}])))
add("pod-env-value-and-valueFrom", "jobs", 422, ["spec.template.spec.containers[0].env[0].valueFrom", "may not be specified when `value` is not empty"],
    job(lambda j: ctr(j).__setitem__("env", [{"name": "X", "value": "v", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}])))
add("pod-terminationMessagePolicy", "jobs", 422, 'spec.template.spec.containers[0].terminationMessagePolicy: Unsupported value: "Loud"',
    job(lambda j: ctr(j).__setitem__("terminationMessagePolicy", "Loud")))
add("pod-serviceAccountName", "jobs", 422, 'spec.template.spec.serviceAccountName: Invalid value: "Bad_SA"',
    job(lambda j: pod(j).__setitem__("serviceAccountName", "Bad_SA")))

# --- wrong types (the decoder refuses: 400)
for path, value, go in [
    ("spec.parallelism", "two", "int32"), ("spec.completions", 1.5, "int32"), ("spec.parallelism", 99999999999, "int32"),
    ("spec.suspend", "yes", "bool"), ("spec.backoffLimit", [1], "int32"), ("spec.activeDeadlineSeconds", {"s": 1}, "int64"),
    ("spec.completionMode", 1, "string"), ("spec.template.spec.containers", {"name": "c"}, "[]v1.Container"),
    ("spec.template.spec.restartPolicy", ["Never"], "v1.RestartPolicy"), ("metadata.labels", ["a"], "map[string]string"),
    ("metadata.name", 7, "string"), ("spec.ttlSecondsAfterFinished", True, "int32"), ("spec.selector", "app=x", "v1.LabelSelector"),
]:
    def m(j, path=path, value=value):
        o = j
        parts = path.split(".")
        for p in parts[:-1]:
            o = o[p]
        o[parts[-1]] = value
    add(f"type-{path.replace('.', '-')}-{type(value).__name__}", "jobs", 400, ["cannot unmarshal", path.split(".")[-1]], job(m))
add("type-command-string", "jobs", 400, ["cannot unmarshal", "command"], job(lambda j: ctr(j).__setitem__("command", "true")))
add("type-env-value-number", "jobs", 400, ["cannot unmarshal", "value"], job(lambda j: ctr(j).__setitem__("env", [{"name": "X", "value": 1}])))
add("type-cronjob-schedule-number", "cronjobs", 400, ["cannot unmarshal", "schedule"], cronjob(lambda c: c["spec"].__setitem__("schedule", 5)))
add("type-cronjob-suspend-string", "cronjobs", 400, ["cannot unmarshal", "suspend"], cronjob(lambda c: c["spec"].__setitem__("suspend", "no")))

# --- unknown fields (fieldValidation=Strict)
for path in ["spec.paralelism", "spec.template.spec.restartpolicy", "metadata.nmae", "spec.foo", "spec.template.spec.containers[0].imagee",
             "spec.template.spec.containers[0].resources.request"]:
    def m(j, path=path):
        o = j
        parts = path.replace("[0]", ".0").split(".")
        for p in parts[:-1]:
            o = o[int(p)] if p.isdigit() else o.setdefault(p, {})
        o[parts[-1]] = 1
    add(f"unknown-{path.replace('.', '-').replace('[0]', '')}", "jobs", 400, f'strict decoding error: unknown field "{path}"', job(m))
add("unknown-cronjob-field", "cronjobs", 400, 'strict decoding error: unknown field "spec.scheduel"',
    cronjob(lambda c: c["spec"].__setitem__("scheduel", "* * * * *")))

# --- broken YAML and hostile shapes (400)
base = yaml.safe_dump(JOB, sort_keys=False)
for slug, body in [
    ("yaml-tab-indent", base.replace("  name: corpus", "\tname: corpus")),
    ("yaml-unclosed-quote", base.replace("name: corpus", 'name: "corpus')),
    ("yaml-unclosed-flow", base.replace("kind: Job", "kind: [Job")),
    ("yaml-bad-indent", base.replace("spec:\n  template:", "spec:\n template:\n   x: 1\n  y:")),
    ("yaml-colon-in-key", base.replace("kind: Job", "kind: Job: Job")),
    ("yaml-list-document", "- apiVersion: batch/v1\n  kind: Job\n"),
    ("yaml-scalar-document", "just a string\n"),
    ("yaml-binary", "\x00\x01\x02\x03 not yaml \xff"),
    ("yaml-duplicate-key", base.replace("kind: Job", "kind: Job\nkind: Job")),
    ("yaml-anchor-bomb", "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
                         "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
                         "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\nh: [*g, *g, *g, *g, *g, *g, *g, *g, *g]\n"),
    ("yaml-deep-nesting", base + "deep: " + "[" * 10000 + "]" * 10000 + "\n"),
    ("yaml-deep-maps", base + "deep: " + "{k: " * 10000 + "v" + "}" * 10000 + "\n"),
]:
    add(slug, "jobs", 400, "", body)
add("yaml-wrong-kind", "jobs", 400, "", base.replace("kind: Job", "kind: Pod"))
add("yaml-wrong-apiVersion", "jobs", 400, "", base.replace("batch/v1", "batch/v2"))
# (A request over 3 MiB is built by the test itself, not stored here.)

# --- CronJob
for s, why in [("* * *", "expected exactly 5 fields, found 3: [* * *]"), ("61 * * * *", "end of range (61) above maximum (59): 61"),
               ("* 25 * * *", "end of range (25) above maximum (23): 25"), ("* * 32 * *", "end of range (32) above maximum (31): 32"),
               ("* * * 13 *", "end of range (13) above maximum (12): 13"), ("* * * * 8", "end of range (8) above maximum (6): 8"),
               ("@yearly2", "unrecognized descriptor: @yearly2"), ("@every", "unrecognized descriptor: @every"),
               ("*/0 * * * *", "step of range should be a positive number: */0"), ("a b c d e", "failed to parse int from a"),
               ("* * * * * *", "expected exactly 5 fields, found 6: [* * * * * *]"), ("5-1 * * * *", "beginning of range (5) beyond end of range (1): 5-1"),
               ("* * * JAN-XYZ *", "failed to parse int from XYZ")]:
    add(f"cronjob-schedule-{s.replace(' ', '_').replace('*', 'x').replace('/', '_')}", "cronjobs", 422,
        f'spec.schedule: Invalid value: "{s}": {why}', cronjob(lambda c, s=s: c["spec"].__setitem__("schedule", s)))
add("cronjob-schedule-empty", "cronjobs", 422, "spec.schedule: Required value", cronjob(lambda c: c["spec"].__setitem__("schedule", "")))
for s in ["TZ=UTC * * * * *", "CRON_TZ=Asia/Seoul 0 9 * * *"]:
    add(f"cronjob-schedule-{s.split('=')[0]}", "cronjobs", 422,
        f'spec.schedule: Invalid value: "{s}": cannot use TZ or CRON_TZ in schedule, use timeZone field instead',
        cronjob(lambda c, s=s: c["spec"].__setitem__("schedule", s)))
# robfig/cron panics on a zone prefix with no fields; we answer with an error.
for s in ["TZ=", "CRON_TZ=UTC"]:
    add(f"cronjob-schedule-{s.split('=')[0]}-alone", "cronjobs", 422,
        f'spec.schedule: Invalid value: "{s}": expected fields after the time zone, found none',
        cronjob(lambda c, s=s: c["spec"].__setitem__("schedule", s)))
for tz in ["Mars/Olympus", "Asia/Seul", "utc ", "../../etc/passwd", "America/New York"]:
    add(f"cronjob-timeZone-{tz.replace('/', '_').replace(' ', '_').replace('.', 'd')}", "cronjobs", 422, f"spec.timeZone: Invalid value: {json.dumps(tz)}",
        cronjob(lambda c, tz=tz: c["spec"].__setitem__("timeZone", tz)))
for tz in ["Local", "local"]:
    add(f"cronjob-timeZone-{tz}", "cronjobs", 422,
        f'spec.timeZone: Invalid value: "{tz}": timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones',
        cronjob(lambda c, tz=tz: c["spec"].__setitem__("timeZone", tz)))
for field in ["startingDeadlineSeconds", "successfulJobsHistoryLimit", "failedJobsHistoryLimit"]:
    for v in [-1, -60]:
        add(f"cronjob-{field}-{v}", "cronjobs", 422, f"spec.{field}: Invalid value: {v}: {NONNEG}",
            cronjob(lambda c, field=field, v=v: c["spec"].__setitem__(field, v)))
for v in ["Sometimes", "allow", "forbid"]:  # "" is defaulted to Allow
    add(f"cronjob-concurrencyPolicy-{json.dumps(v)}", "cronjobs", 422,
        f'spec.concurrencyPolicy: Unsupported value: {json.dumps(v)}: supported values: "Allow", "Forbid", "Replace"',
        cronjob(lambda c, v=v: c["spec"].__setitem__("concurrencyPolicy", v)))
add("cronjob-template-restartPolicy", "cronjobs", 422,
    'spec.jobTemplate.spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"',
    cronjob(lambda c: c["spec"]["jobTemplate"]["spec"]["template"]["spec"].__setitem__("restartPolicy", "Always")))
add("cronjob-template-selector", "cronjobs", 422, ["spec.jobTemplate.spec.selector: Invalid value: ", "`selector` will be auto-generated"],
    cronjob(lambda c: c["spec"]["jobTemplate"]["spec"].__setitem__("selector", {"matchLabels": {"a": "b"}})))
add("cronjob-template-manualSelector", "cronjobs", 422,
    'spec.jobTemplate.spec.manualSelector: Unsupported value: true: supported values: "nil", "false"',
    cronjob(lambda c: c["spec"]["jobTemplate"]["spec"].__setitem__("manualSelector", True)))
add("cronjob-template-parallelism", "cronjobs", 422, f"spec.jobTemplate.spec.parallelism: Invalid value: -1: {NONNEG}",
    cronjob(lambda c: c["spec"]["jobTemplate"]["spec"].__setitem__("parallelism", -1)))
add("cronjob-template-no-containers", "cronjobs", 422, "spec.jobTemplate.spec.template.spec.containers: Required value",
    cronjob(lambda c: c["spec"]["jobTemplate"]["spec"]["template"]["spec"].__setitem__("containers", [])))
add("cronjob-name-too-long", "cronjobs", 422, "must be no more than 52 characters", cronjob(lambda c: c["metadata"].__setitem__("name", "a" * 53)))
for name in ["Bad_Name", "UPPER"]:
    add(f"cronjob-name-{name}", "cronjobs", 422, f"metadata.name: Invalid value: {json.dumps(name)}",
        cronjob(lambda c, name=name: c["metadata"].__setitem__("name", name)))
add("cronjob-template-label", "cronjobs", 422, 'spec.jobTemplate.metadata.labels: Invalid value: "bad key"',
    cronjob(lambda c: c["spec"]["jobTemplate"].__setitem__("metadata", {"labels": {"bad key": "v"}})))

# --- Container restart rules (KEP-5307; upstream's validateContainerRestartPolicy)
P = "spec.template.spec.containers[0]"


def rule(action="Restart", operator="In", values=(42,)):
    r = {"action": action}
    if operator is not None:
        r["exitCodes"] = {"operator": operator, "values": list(values)}
    return r


def restart(policy, rules=None, init=False):
    def m(j):
        c = ctr(j)
        if init:
            c = dict(c, name="init")
            pod(j)["initContainers"] = [c]
        if policy is not None:
            c["restartPolicy"] = policy
        if rules is not None:
            c["restartPolicyRules"] = rules
    return job(m)


add("job-container-restartPolicy-unknown", "jobs", 422,
    f'{P}.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "Never", "OnFailure"',
    restart("Sometimes"))
add("job-container-restartPolicyRules-without-restartPolicy", "jobs", 422,
    f"{P}.restartPolicy: Required value: must specify restartPolicy when restart rules are used",
    restart(None, [rule()]))
add("job-container-restartPolicyRules-action-unknown", "jobs", 422,
    f'{P}.restartPolicyRules[0].action: Unsupported value: "Ignore": supported values: "Restart"',
    restart("Never", [rule(action="Ignore")]))
add("job-container-restartPolicyRules-action-RestartAllContainers", "jobs", 422,
    f'{P}.restartPolicyRules[0].action: Unsupported value: "RestartAllContainers": supported values: "Restart"',
    restart("Never", [rule(action="RestartAllContainers")]))
add("job-container-restartPolicyRules-exitCodes-missing", "jobs", 422,
    f"{P}.restartPolicyRules[0].exitCodes: Required value: must be specified",
    restart("Never", [rule(operator=None)]))
add("job-container-restartPolicyRules-operator-unknown", "jobs", 422,
    f'{P}.restartPolicyRules[0].exitCodes.operator: Unsupported value: "Equals": supported values: "In", "NotIn"',
    restart("Never", [rule(operator="Equals")]))
add("job-container-restartPolicyRules-too-many-values", "jobs", 422,
    f"{P}.restartPolicyRules[0].exitCodes.values: Too many: 256: must have at most 255 items",
    restart("Never", [rule(values=range(1, 257))]))
add("job-container-restartPolicyRules-too-many-rules", "jobs", 422,
    f"{P}.restartPolicyRules: Too many: 21: must have at most 20 items",
    restart("Never", [rule(values=(i,)) for i in range(1, 22)]))
add("job-sidecar-restartPolicyRules", "jobs", 422,
    "spec.template.spec.initContainers[0].restartPolicyRules: Forbidden: restartPolicyRules are not allowed on sidecar containers",
    restart("Always", [rule()], init=True))


# RBAC (upstream's pkg/apis/rbac/validation) and TokenRequest (serviceaccounts/token).
ROLES = "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles"
CLUSTERROLES = "/apis/rbac.authorization.k8s.io/v1/clusterroles"
ROLEBINDINGS = "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings"
CLUSTERROLEBINDINGS = "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings"
TOKEN = "/api/v1/namespaces/{ns}/serviceaccounts/default/token"
SERVICES = "/api/v1/namespaces/{ns}/services"


def rbac(kind, **fields):
    o = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": {"name": "corpus"}}
    o.update(fields)
    return o


READ = {"verbs": ["get"], "apiGroups": ["batch"], "resources": ["jobs"]}
add("role-rule-no-verbs", ROLES, 422, 'Role.rbac.authorization.k8s.io "corpus" is invalid: rules[0].verbs: Required value: verbs must contain at least one value',
    rbac("Role", rules=[{"apiGroups": ["batch"], "resources": ["jobs"]}]))
add("role-rule-no-apiGroups", ROLES, 422, "rules[0].apiGroups: Required value: resource rules must supply at least one api group",
    rbac("Role", rules=[{"verbs": ["get"], "resources": ["jobs"]}]))
add("role-rule-no-resources", ROLES, 422, "rules[0].resources: Required value: resource rules must supply at least one resource",
    rbac("Role", rules=[{"verbs": ["get"], "apiGroups": [""]}]))
add("role-rule-nonResourceURLs", ROLES, 422, ["rules[0].nonResourceURLs: Invalid value: ", "namespaced rules cannot apply to non-resource URLs"],
    rbac("Role", rules=[{"verbs": ["get"], "nonResourceURLs": ["/healthz"]}]))
add("role-name-percent", ROLES, 422, """metadata.name: Invalid value: "a%b": may not contain '%'""",
    rbac("Role", metadata={"name": "a%b"}, rules=[READ]))
add("role-unknown-field", ROLES, 400, 'strict decoding error: unknown field "rules[0].verb"',
    rbac("Role", rules=[{"verb": ["get"], "apiGroups": [""], "resources": ["pods"]}]))
add("clusterrole-rule-both", CLUSTERROLES, 422, ["rules[0].nonResourceURLs: Invalid value: ", "rules cannot apply to both regular resources and non-resource URLs"],
    rbac("ClusterRole", rules=[{"verbs": ["get"], "apiGroups": [""], "resources": ["pods"], "nonResourceURLs": ["/metrics"]}]))
add("clusterrole-aggregation-empty", CLUSTERROLES, 422,
    "aggregationRule.clusterRoleSelectors: Required value: at least one clusterRoleSelector required if aggregationRule is non-nil",
    rbac("ClusterRole", aggregationRule={"clusterRoleSelectors": []}))
add("clusterrole-aggregation-bad-selector", CLUSTERROLES, 422, 'aggregationRule.clusterRoleSelectors[0].matchLabels: Invalid value: "bad key"',
    rbac("ClusterRole", aggregationRule={"clusterRoleSelectors": [{"matchLabels": {"bad key": "x"}}]}))
REF = {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"}
USER = {"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"}
add("rolebinding-roleRef-kind", ROLEBINDINGS, 422, 'roleRef.kind: Unsupported value: "Pod": supported values: "Role", "ClusterRole"',
    rbac("RoleBinding", roleRef=dict(REF, kind="Pod"), subjects=[USER]))
add("rolebinding-roleRef-apiGroup", ROLEBINDINGS, 422, 'roleRef.apiGroup: Unsupported value: "rbac": supported values: "rbac.authorization.k8s.io"',
    rbac("RoleBinding", roleRef=dict(REF, apiGroup="rbac"), subjects=[USER]))
add("rolebinding-roleRef-name", ROLEBINDINGS, 422, "roleRef.name: Required value", rbac("RoleBinding", roleRef=dict(REF, name=""), subjects=[USER]))
add("rolebinding-subject-kind", ROLEBINDINGS, 422,
    'subjects[0].kind: Unsupported value: "Robot": supported values: "ServiceAccount", "User", "Group"',
    rbac("RoleBinding", roleRef=REF, subjects=[{"kind": "Robot", "name": "r2"}]))
add("rolebinding-subject-no-name", ROLEBINDINGS, 422, "subjects[0].name: Required value", rbac("RoleBinding", roleRef=REF, subjects=[dict(USER, name="")]))
add("rolebinding-subject-sa-apiGroup", ROLEBINDINGS, 422,
    'subjects[0].apiGroup: Unsupported value: "rbac.authorization.k8s.io": supported values: ""',
    rbac("RoleBinding", roleRef=REF, subjects=[{"kind": "ServiceAccount", "name": "default", "apiGroup": "rbac.authorization.k8s.io"}]))
add("rolebinding-no-roleRef", ROLEBINDINGS, 422, ['roleRef.kind: Unsupported value: "": supported values: "Role", "ClusterRole"', "roleRef.name: Required value"],
    rbac("RoleBinding", subjects=[USER]))
add("clusterrolebinding-role", CLUSTERROLEBINDINGS, 422, 'roleRef.kind: Unsupported value: "Role": supported values: "ClusterRole"',
    rbac("ClusterRoleBinding", roleRef=dict(REF, kind="Role"), subjects=[USER]))
add("clusterrolebinding-sa-no-namespace", CLUSTERROLEBINDINGS, 422, "subjects[0].namespace: Required value",
    rbac("ClusterRoleBinding", roleRef=REF, subjects=[{"kind": "ServiceAccount", "name": "default"}]))


def token(spec, metadata=None):
    o = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}
    if metadata:
        o["metadata"] = metadata
    return o


add("tokenrequest-expiration-short", TOKEN, 422,
    'TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 10 minutes',
    token({"expirationSeconds": 60}))
add("tokenrequest-expiration-long", TOKEN, 422, "spec.expirationSeconds: Invalid value: 4294967296: may not specify a duration larger than 2^32 seconds",
    token({"expirationSeconds": 2**32}))
add("tokenrequest-name-mismatch", TOKEN, 422, 'metadata.name: Invalid value: "other": must match the service account name if specified',
    token({}, {"name": "other"}))
add("tokenrequest-bound-configmap", TOKEN, 400, "cannot bind token to object of type /v1, Kind=ConfigMap",
    token({"boundObjectRef": {"kind": "ConfigMap", "apiVersion": "v1", "name": "x"}}))
add("tokenrequest-bound-missing-pod", TOKEN, 404, 'pods "nope" not found',
    token({"boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "nope"}}))
add("tokenrequest-missing-account", "/api/v1/namespaces/{ns}/serviceaccounts/ghost/token", 404, 'serviceaccounts "ghost" not found', token({}))
add("tokenrequest-unknown-field", TOKEN, 400, 'strict decoding error: unknown field "spec.audience"', token({"audience": ["x"]}))


def service(spec):
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "corpus"}, "spec": spec}


add("service-no-ports", SERVICES, 422, 'Service "corpus" is invalid: spec.ports: Required value', service({"selector": {"a": "b"}}))
add("service-type", SERVICES, 422, 'spec.type: Unsupported value: "Internal": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"',
    service({"type": "Internal", "ports": [{"port": 80}]}))
add("service-port-range", SERVICES, 422, "spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive",
    service({"ports": [{"port": 70000}]}))
add("service-port-names", SERVICES, 422, "spec.ports[1].name: Required value", service({"ports": [{"port": 80, "name": "http"}, {"port": 81}]}))
add("service-clusterIP-range", SERVICES, 422, "failed to allocate IP 192.168.0.1: the provided IP (192.168.0.1) is not in the valid range. The range of valid IPs is 10.96.0.0/12",
    service({"clusterIP": "192.168.0.1", "ports": [{"port": 80}]}))
add("service-externalName", SERVICES, 422, "spec.externalName: Required value", service({"type": "ExternalName"}))

if __name__ == "__main__":
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    seen = set()
    for i, (slug, resource, status, wants, body) in enumerate(cases):
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in slug)[:80]
        assert safe not in seen, safe
        seen.add(safe)
        head = f"# resource: {resource}\n# status: {status}\n" + "".join(f"# want: {w}\n" for w in wants if w)
        with open(os.path.join(OUT, f"{i:03d}-{safe}.yaml"), "w", encoding="utf-8", errors="surrogateescape") as f:
            f.write(head + body)
    print(f"{len(cases)} cases in {os.path.normpath(OUT)}")
