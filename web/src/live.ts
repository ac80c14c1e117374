// The live stream: authenticates with its first message (the token stays out of URLs and logs),
// subscribes to one origin, and reconnects with exponential backoff (1 s … 30 s); `onState` says
// whether the data on screen is live or stale. Samples are handed over in batches, at most ten
// times a second, so a page redraws once per batch however fast they arrive (1,000 a second in
// the dashboard benchmark); a page that needs fewer asks the server for at most `maxRateHz` per
// device (the newest wins). A hidden tab's timers slow down: its backlog is bounded, oldest
// samples dropped first.
import { session } from "./api";

export interface Sample {
  device: string;
  ts: string;
  origin: string;
  v: (number | null)[];
  i: (number | null)[];
  p: (number | null)[];
  q: (number | null)[];
  f: number | null;
  v_avg: number | null;
  i_avg: number | null;
  p_total: number | null;
  q_total: number | null;
  pf: number | null;
}

export interface LiveOptions {
  devices?: string[];  // only these (all of the origin by default)
  maxRateHz?: number;  // per device, coalesced by the server (no cap by default)
  /// Other message types to receive (e.g. network_state), handed to `onOther` as they come.
  otherTypes?: string[];
  onOther?: (type: string, data: unknown) => void;
}

const kBatchMs = 100;
const kMaxBacklog = 20_000;

export class LiveStream {
  private ws: WebSocket | null = null;
  private delayMs = 1000;
  private timer: number | null = null;
  private closed = false;
  private pending: Sample[] = [];
  private flushTimer: number | null = null;

  constructor(
    private readonly origin: string,
    private readonly onSamples: (samples: Sample[], snapshot: boolean) => void,
    private readonly onState: (live: boolean) => void,
    private readonly options: LiveOptions = {},
  ) {
    this.connect();
  }

  close(): void {
    this.closed = true;
    if (this.timer !== null) window.clearTimeout(this.timer);
    if (this.flushTimer !== null) window.clearTimeout(this.flushTimer);
    this.ws?.close(1000);
  }

  private flush(): void {
    this.flushTimer = null;
    if (this.closed || !this.pending.length) return;
    const batch = this.pending;
    this.pending = [];
    this.onSamples(batch, false);
  }

  private queue(sample: Sample): void {
    if (this.pending.length >= kMaxBacklog) this.pending.splice(0, kMaxBacklog / 2);
    this.pending.push(sample);
    if (this.flushTimer === null) this.flushTimer = window.setTimeout(() => this.flush(), kBatchMs);
  }

  private connect(): void {
    const { token } = session();
    if (this.closed || !token) return;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${scheme}//${location.host}/ws/grid-data`);
    this.ws = ws;
    ws.onopen = () => {
      ws.send(JSON.stringify({ type: "auth", token }));
      const subscription: Record<string, unknown> = {
        type: "subscribe",
        origin: this.origin,
        types: ["measurement", ...(this.options.otherTypes ?? [])],
      };
      if (this.options.devices?.length) subscription.devices = this.options.devices;
      if (this.options.maxRateHz) subscription.max_rate_hz = this.options.maxRateHz;
      ws.send(JSON.stringify(subscription));
    };
    ws.onmessage = (ev: MessageEvent<string>) => {
      const msg = JSON.parse(ev.data) as { type: string; data: unknown };
      if (msg.type === "snapshot") {
        this.delayMs = 1000;
        this.onState(true);
        this.flush();
        this.onSamples((msg.data as Sample[]).filter((s) => s.origin === this.origin), true);
      } else if (msg.type === "measurement") {
        this.queue(msg.data as Sample);
      } else if (this.options.otherTypes?.includes(msg.type)) {
        this.options.onOther?.(msg.type, msg.data);
      }
    };
    ws.onclose = () => {
      this.ws = null;
      if (this.closed) return;
      this.onState(false);
      this.timer = window.setTimeout(() => this.connect(), this.delayMs);
      this.delayMs = Math.min(this.delayMs * 2, 30000);
    };
  }
}
