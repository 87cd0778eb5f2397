// The body of PUT /v1/desired-state (docs/control-api.md): its JSON Schema,
// validated by ajv, plus the checks a schema cannot express (unique pod uids,
// unique container names). Every message names the bad field, e.g.
// `pods[2].containers[0].id: must match "containerd://<64 hex>" …`.
//
// Strings that become file system paths (pod uid, container id) are held to
// strict patterns here, so nothing a client sends can walk the cgroup tree.

import Ajv, { type ErrorObject } from 'ajv';
import type { DesiredPod } from '../targets/pod-targets';

export interface DesiredState {
  version: string;
  epoch: number;
  seq: number;
  node: string;
  pods: DesiredPod[];
}

export const LIMITS = {
  bodyBytes: 1024 * 1024,
  pods: 2000,
  containers: 64,
  labels: 64,
} as const;

const DNS_LABEL = '^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$';
const DNS_SUBDOMAIN = '^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$';
// Kubernetes label key: optional DNS-subdomain prefix and "/", then a name of ≤ 63.
const LABEL_KEY = '^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$';
const LABEL_VALUE = '^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$';
/** Pod uids are UUIDs (static pods: a 32-hex config hash). */
const POD_UID = '^[0-9a-f][0-9a-f-]{7,63}$';
/** Empty: the container has not started yet (kept desired, reported unresolved). */
const CONTAINER_ID = '^((containerd|cri-o|docker)://[0-9a-f]{64})?$';

/** JSON Schema (draft 2020-12 subset) of the request body; docs/control-api.md shows it. */
export const DESIRED_STATE_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['version', 'epoch', 'seq', 'node', 'pods'],
  properties: {
    version: { type: 'string', minLength: 1, maxLength: 256 },
    epoch: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
    seq: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
    node: { type: 'string', minLength: 1, maxLength: 253 },
    pods: {
      type: 'array',
      maxItems: LIMITS.pods,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['uid', 'namespace', 'name', 'containers'],
        properties: {
          uid: { type: 'string', pattern: POD_UID },
          namespace: { type: 'string', maxLength: 63, pattern: DNS_LABEL },
          name: { type: 'string', maxLength: 253, pattern: DNS_SUBDOMAIN },
          labels: {
            type: 'object',
            maxProperties: LIMITS.labels,
            propertyNames: { maxLength: 317, pattern: LABEL_KEY },
            additionalProperties: { type: 'string', maxLength: 63, pattern: LABEL_VALUE },
          },
          containers: {
            type: 'array',
            maxItems: LIMITS.containers,
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['name', 'id'],
              properties: {
                name: { type: 'string', maxLength: 63, pattern: DNS_LABEL },
                id: { type: 'string', pattern: CONTAINER_ID },
              },
            },
          },
        },
      },
    },
  },
} as const;

const HINTS: Record<string, string> = {
  [POD_UID]: 'a pod uid (metadata.uid, lower-case hex and dashes)',
  [CONTAINER_ID]: '"containerd://<64 hex>", "cri-o://<64 hex>" or "docker://<64 hex>" (status.containerStatuses[].containerID), or "" before the container starts',
  [DNS_LABEL]: 'a DNS label (lower-case letters, digits and "-", at most 63)',
  [DNS_SUBDOMAIN]: 'a DNS subdomain (lower-case letters, digits, "-" and ".")',
  [LABEL_KEY]: 'a Kubernetes label key',
  [LABEL_VALUE]: 'a Kubernetes label value (at most 63 letters, digits, "-", "_" or ".")',
};

const ajv = new Ajv({ allErrors: false, strict: true });
const validate = ajv.compile(DESIRED_STATE_SCHEMA);

/** "/pods/2/containers/0/id" → "pods[2].containers[0].id". */
function fieldOf(instancePath: string, extra?: string): string {
  const parts = instancePath.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (extra !== undefined) parts.push(extra);
  let out = '';
  for (const p of parts) out += /^[0-9]+$/.test(p) ? `[${p}]` : /^[A-Za-z_][A-Za-z0-9_]*$/.test(p) ? (out ? `.${p}` : p) : `[${JSON.stringify(p)}]`;
  return out || 'body';
}

function describe(e: ErrorObject): string {
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      return `${fieldOf(e.instancePath, String(p.missingProperty))}: required`;
    case 'additionalProperties':
      return `${fieldOf(e.instancePath, String(p.additionalProperty))}: unknown field (check its spelling against docs/control-api.md)`;
    case 'pattern': {
      const hint = HINTS[String(p.pattern)];
      return `${fieldOf(e.instancePath)}: ${hint ? `must be ${hint}` : `must match ${String(p.pattern)}`}`;
    }
    case 'propertyNames':
      return `${fieldOf(e.instancePath)}: label key ${JSON.stringify(p.propertyName)} is not a Kubernetes label key`;
    default:
      return `${fieldOf(e.instancePath)}: ${e.message ?? 'invalid'}`;
  }
}

export type Validation = { ok: true; value: DesiredState } | { ok: false; error: string };

/** Validates a parsed body; the error names the first bad field. */
export function validateDesiredState(body: unknown): Validation {
  if (!validate(body)) {
    const errors = validate.errors ?? [];
    // propertyNames reports its inner pattern failure first; the outer message is clearer.
    const e = errors.find((x) => x.keyword === 'propertyNames') ?? errors[0];
    return { ok: false, error: e ? describe(e) : 'body: invalid' };
  }
  const value = body as unknown as DesiredState;
  const uids = new Set<string>();
  for (let i = 0; i < value.pods.length; i++) {
    const pod = value.pods[i]!;
    if (uids.has(pod.uid)) return { ok: false, error: `pods[${i}].uid: pod ${pod.uid} is listed twice` };
    uids.add(pod.uid);
    const names = new Set<string>();
    for (let j = 0; j < pod.containers.length; j++) {
      const c = pod.containers[j]!;
      if (names.has(c.name)) return { ok: false, error: `pods[${i}].containers[${j}].name: container ${c.name} is listed twice` };
      names.add(c.name);
    }
  }
  for (const pod of value.pods) if (pod.labels === undefined) (pod as { labels: Record<string, string> }).labels = {};
  return { ok: true, value };
}
