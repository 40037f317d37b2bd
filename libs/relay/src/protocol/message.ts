import { Field, isObject, JsonObject, ValueOf } from './fields';
import { RelayRole } from './sockets';

export type Direction = 'client → server' | 'server → client';

/** One way a message travels: its direction, the sockets it travels on, what it means there. */
export interface Route {
  readonly direction: Direction;
  readonly sockets: readonly RelayRole[];
  readonly description: string;
}

export type Fields = { readonly [name: string]: Field };

type Simplify<T> = { -readonly [K in keyof T]: T[K] } & {};

/** The frame a declaration describes: `type`, its required fields, its optional ones. */
export type Frame<T extends string, F extends Fields> = Simplify<
  { type: T } & {
    [K in keyof F as F[K] extends Field<unknown, false> ? K : never]: ValueOf<F[K]>;
  } & {
    [K in keyof F as F[K] extends Field<unknown, true> ? K : never]?: ValueOf<F[K]>;
  }
>;

/**
 * One message shape, declared once: its `type`, its fields (types, checks and bounds), where it
 * travels and an example. A `type` may have two shapes when they travel on different sockets
 * (`joined`, `status`: new protocol and legacy).
 */
export interface MessageDef<
  T extends string = string,
  F extends Fields = Fields,
  R extends readonly Route[] = readonly Route[],
> {
  readonly type: T;
  readonly fields: F;
  readonly routes: R;
  /** Checked against the fields by the compiler (here) and at run time (the protocol specs). */
  readonly example: Frame<T, F>;
  /** The fields' names, once (the parser walks them for every frame). */
  readonly names: readonly string[];
}

/** Any declaration, as the generic code (parser, doc, checks) sees it. */
export interface AnyMessageDef {
  readonly type: string;
  readonly fields: Fields;
  readonly routes: readonly Route[];
  readonly example: { readonly type: string };
  readonly names: readonly string[];
}

/**
 * Declares one message. The example is typed by the declaration's own fields: an example that
 * lacks a required field, has one of the wrong type or one the declaration does not name does
 * not compile.
 */
export function message<
  const T extends string,
  const F extends Fields,
  const R extends readonly Route[],
>(def: { type: T; fields: F; routes: R; example: NoInfer<Frame<T, F>> }): MessageDef<T, F, R> {
  return { ...def, names: Object.keys(def.fields) };
}

/** The frames of the declarations `M` that travel in direction `D`. */
export type FrameSent<M, D extends Direction> =
  M extends MessageDef<infer T, infer F, infer R>
    ? D extends R[number]['direction']
      ? Frame<T, F>
      : never
    : never;

/** The sockets the routes `R` name in direction `D`. */
type SocketsOf<R, D extends Direction> = R extends {
  readonly direction: D;
  readonly sockets: readonly (infer S)[];
}
  ? S
  : never;

/** The frames of the declarations `M` that travel in direction `D` on one of the sockets `S`. */
export type FrameSentOn<M, D extends Direction, S extends RelayRole> =
  M extends MessageDef<infer T, infer F, infer R>
    ? [Extract<S, SocketsOf<R[number], D>>] extends [never]
      ? never
      : Frame<T, F>
    : never;

export type CheckResult =
  { ok: true; frame: JsonObject & { type: string } } | { ok: false; problem: string };

/**
 * Checks a frame's fields against a declaration. The frame that comes out holds `type` and the
 * declared fields only (anything else a client sent is left behind).
 */
export function checkFields(def: AnyMessageDef, value: JsonObject): CheckResult {
  if (value.type !== def.type) return { ok: false, problem: `type must be "${def.type}"` };
  for (const name of def.names) {
    const field = def.fields[name];
    const got = value[name];
    if (got === undefined && field.optional) continue;
    if (!field.accepts(got))
      return { ok: false, problem: `${def.type}.${name} must be ${field.expected}` };
  }
  // most frames hold only their declared fields: those are passed on as parsed, not copied
  let extra = false;
  for (const key in value) if (key !== 'type' && !Object.hasOwn(def.fields, key)) extra = true;
  if (!extra) return { ok: true, frame: value as JsonObject & { type: string } };
  const frame: JsonObject & { type: string } = { type: def.type };
  for (const name of def.names) if (value[name] !== undefined) frame[name] = value[name];
  return { ok: true, frame };
}

/**
 * Why `value` is not exactly a frame of `def` (a field fails its check, or one is not declared),
 * or undefined when it is one.
 */
export function frameProblem(def: AnyMessageDef, value: unknown): string | undefined {
  if (!isObject(value)) return 'a frame is a JSON object';
  const extra = Object.keys(value).find((key) => key !== 'type' && !Object.hasOwn(def.fields, key));
  if (extra !== undefined) return `${def.type} has no field ${extra}`;
  const checked = checkFields(def, value);
  return checked.ok ? undefined : checked.problem;
}
