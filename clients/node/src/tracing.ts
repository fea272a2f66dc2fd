// The W3C `traceparent` of the active OpenTelemetry span, so an agent's
// spans and the kernel's `syscall <verb>` spans join one trace.
//
// @opentelemetry/api is an optional peer, never a dependency: it is looked
// up once, from the application's folder first (a linked install of this
// package would not see it otherwise), then from here. Every copy of the
// API shares the one global context, so either finds the active span.
// Without it no header is sent and nothing else changes.
//
// SPDX-License-Identifier: Apache-2.0

interface SpanContext { traceId: string; spanId: string; traceFlags: number }
interface OtelApi {
  context: { active(): unknown };
  trace: {
    getSpan(ctx: unknown): { spanContext(): SpanContext } | undefined;
    isSpanContextValid(sc: SpanContext): boolean;
  };
}

let api: OtelApi | null | undefined;

function load(): OtelApi | null {
  for (const from of [process.cwd(), __dirname]) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      return require(require.resolve('@opentelemetry/api', { paths: [from] })) as OtelApi;
    } catch {
      // not there: try the next place
    }
  }
  return null;
}

/** 00-<trace id>-<span id>-<flags> of the active span, or undefined. */
export function currentTraceparent(): string | undefined {
  if (api === undefined) api = load();
  if (api === null) return undefined;
  const span = api.trace.getSpan(api.context.active());
  if (!span) return undefined;
  const sc = span.spanContext();
  if (!api.trace.isSpanContextValid(sc)) return undefined;
  return `00-${sc.traceId}-${sc.spanId}-${(sc.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}
