/** What must hold before `lightfoot run` touches the kernel, each with its fix. */
import { NotSupportedError, PermissionError } from '../errors';
import { canLoadTracing, effectiveCapabilities } from '../system/capabilities';
import { hasVmlinuxBtf, VMLINUX_BTF } from '../system/kernel';

export function preflight(): void {
  if (process.platform !== 'linux') {
    throw new NotSupportedError(`lightfoot monitors Linux kernels; this is ${process.platform}`, { feature: 'linux' });
  }
  if (!canLoadTracing(effectiveCapabilities())) {
    throw new PermissionError('lightfoot run needs root or CAP_BPF and CAP_PERFMON to load eBPF programs', {
      hint: 'run it with sudo; `lightfoot doctor` lists what is missing',
    });
  }
  if (!hasVmlinuxBtf()) {
    throw new NotSupportedError(`this kernel has no BTF (${VMLINUX_BTF} is missing)`, {
      feature: 'BTF',
      hint: 'use a kernel built with CONFIG_DEBUG_INFO_BTF=y',
    });
  }
}
