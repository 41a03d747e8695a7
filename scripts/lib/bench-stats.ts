/**
 * Figures for `npm run bench`: percentiles, the printed lines, and the memory of a process tree read
 * from /proc (the homeserver's Node launcher and the workerd processes Miniflare spawns).
 */
import { readFileSync, readdirSync } from "node:fs";

/** The nearest-rank percentile of already sorted samples. */
function percentileOfSorted(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export interface Summary {
  count: number;
  p50: number;
  p95: number;
  max: number;
}

export function summarize(samples: readonly number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    count: sorted.length,
    p50: percentileOfSorted(sorted, 50),
    p95: percentileOfSorted(sorted, 95),
    max: sorted.at(-1) ?? Number.NaN,
  };
}

export function ms(value: number): string {
  if (!Number.isFinite(value)) return "n/a";
  if (Math.abs(value) >= 100) return `${value.toFixed(0)} ms`;
  if (Math.abs(value) >= 10) return `${value.toFixed(1)} ms`;
  return `${value.toFixed(2)} ms`;
}

export function rate(count: number, elapsedMs: number): number {
  return elapsedMs > 0 ? (count * 1000) / elapsedMs : 0;
}

export function latencies(summary: Summary): string {
  return `p50 ${ms(summary.p50)}  p95 ${ms(summary.p95)}  max ${ms(summary.max)}  (n=${summary.count})`;
}

/** Whether a figure meets its target, for the right-hand column of a line. */
export function verdict(target: string, met: boolean): string {
  return `target ${target}: ${met ? "met" : "MISSED"}`;
}

const LABEL_WIDTH = 34;

/** One printed figure: a label, the figure, and the target it is compared with (if any). */
export function line(label: string, figure: string, target?: string): string {
  const text = `${label.padEnd(LABEL_WIDTH)} ${figure}`;
  return target === undefined ? text : `${text}   [${target}]`;
}

// ---------------------------------------------------------------------------
// Memory of a process tree (Linux /proc)
// ---------------------------------------------------------------------------

interface ProcessStatus {
  pid: number;
  name: string;
  rssKb: number;
  hwmKb: number;
}

function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name is in parentheses and may contain spaces: the fields after it are fixed.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[1]);
  } catch {
    return undefined;
  }
}

/** `root` and all its descendants that are alive now. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^[0-9]+$/.test(entry)) continue;
    const pid = Number(entry);
    const parent = parentOf(pid);
    if (parent === undefined) continue;
    children.set(parent, [...(children.get(parent) ?? []), pid]);
  }
  const tree: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    if (tree.includes(pid)) continue;
    tree.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return tree.filter((pid) => pid === root || parentOf(pid) !== undefined);
}

function readStatus(pid: number): ProcessStatus | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/status`, "utf8");
    const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(text)?.[1] ?? 0);
    const name = /^Name:\s+(.*)$/m.exec(text)?.[1] ?? "?";
    return { pid, name, rssKb: field("VmRSS"), hwmKb: field("VmHWM") };
  } catch {
    return undefined;
  }
}

export interface MemoryReport {
  /** The largest sum of the tree's resident sets seen while sampling. */
  peakSampledKb: number;
  /** Per process: its own peak resident set (VmHWM) as last read. */
  processes: { pid: number; name: string; hwmKb: number }[];
}

/** Samples the resident memory of a process tree until stopped. */
export class MemorySampler {
  private peakSampledKb = 0;
  private readonly peaks = new Map<number, { name: string; hwmKb: number }>();
  private readonly timer: ReturnType<typeof setInterval>;

  constructor(private readonly root: number, intervalMs = 200) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  sample(): void {
    let total = 0;
    for (const pid of processTree(this.root)) {
      const status = readStatus(pid);
      if (status === undefined) continue;
      total += status.rssKb;
      this.peaks.set(pid, { name: status.name, hwmKb: Math.max(status.hwmKb, this.peaks.get(pid)?.hwmKb ?? 0) });
    }
    this.peakSampledKb = Math.max(this.peakSampledKb, total);
  }

  stop(): MemoryReport {
    this.sample();
    clearInterval(this.timer);
    return {
      peakSampledKb: this.peakSampledKb,
      processes: [...this.peaks].map(([pid, peak]) => ({ pid, ...peak })).sort((a, b) => b.hwmKb - a.hwmKb),
    };
  }
}

export function mb(kb: number): string {
  return `${(kb / 1024).toFixed(0)} MB`;
}
