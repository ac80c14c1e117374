// The live stream: authenticates with its first message (the token stays out of URLs and logs),
// subscribes to one origin, and reconnects with exponential backoff (1 s … 30 s); `onState` says
// whether the data on screen is live or stale.
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

export class LiveStream {
  private ws: WebSocket | null = null;
  private delayMs = 1000;
  private timer: number | null = null;
  private closed = false;

  constructor(
    private readonly origin: string,
    private readonly onSamples: (samples: Sample[], snapshot: boolean) => void,
    private readonly onState: (live: boolean) => void,
    private readonly devices: string[] = [],
  ) {
    this.connect();
  }

  close(): void {
    this.closed = true;
    if (this.timer !== null) window.clearTimeout(this.timer);
    this.ws?.close(1000);
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
        types: ["measurement"],
      };
      if (this.devices.length) subscription.devices = this.devices;
      ws.send(JSON.stringify(subscription));
    };
    ws.onmessage = (ev: MessageEvent<string>) => {
      const msg = JSON.parse(ev.data) as { type: string; data: unknown };
      if (msg.type === "snapshot") {
        this.delayMs = 1000;
        this.onState(true);
        this.onSamples((msg.data as Sample[]).filter((s) => s.origin === this.origin), true);
      } else if (msg.type === "measurement") {
        this.onSamples([msg.data as Sample], false);
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
