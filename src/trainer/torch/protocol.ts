/**
 * The lines of the PyTorch engine's stdout that are not run events (python/README.md "Output"): the first line
 * (`engine`: the header's facts), the last line (`end`), and the JSON of `python -m fisher_lens_engine.doctor`.
 * Every other line must be a run event of the published schema (src/shared/protocol.ts).
 */
import { Type, type Static } from '@sinclair/typebox';
import { HeaderEventSchema, schemaProblems } from '../../shared/protocol';

const Str = (maxLength: number) => Type.String({ maxLength });
const NullableStr = (maxLength: number) => Type.Union([Str(maxLength), Type.Null()]);
const Count = () => Type.Integer({ minimum: 0 });
const open = { additionalProperties: true } as const;
const H = HeaderEventSchema.properties;

/** First line: the engine, its device and versions, and exactly the run header's data/model/probe/step facts. */
export const EngineLineSchema = Type.Object(
  {
    type: Type.Literal('engine'),
    t: Type.Number(),
    engine: Str(100),
    engineVersion: Str(100),
    device: Str(100),
    deviceName: Str(1000),
    torch: Str(200),
    python: Type.Optional(Str(100)),
    cuda: Type.Optional(NullableStr(100)),
    threads: Type.Optional(Type.Integer()),
    pid: Type.Integer(),
    dataset: H.dataset,
    model: H.model,
    probe: Type.Object(
      {
        split: Type.Literal('train'),
        indices: Type.Array(Count(), { maxItems: 1_000_000 }),
      },
      open,
    ),
    seed: H.seed,
    stepsPerEpoch: H.stepsPerEpoch,
    totalSteps: H.totalSteps,
  },
  open,
);
export type EngineLine = Static<typeof EngineLineSchema>;

/** Last line: how the engine ended; the checkpoint folder is complete when it names one. */
export const EndLineSchema = Type.Object(
  {
    type: Type.Literal('end'),
    t: Type.Number(),
    state: Type.Union([
      Type.Literal('completed'),
      Type.Literal('stopped'),
      Type.Literal('aborted'),
    ]),
    step: Type.Union([Count(), Type.Null()]),
    message: Type.Optional(NullableStr(10_000)),
    checkpoint: Type.Optional(NullableStr(10_000)),
  },
  open,
);
export type EndLine = Static<typeof EndLineSchema>;

/** `python -m fisher_lens_engine.doctor`: the interpreter, torch and its devices, each failure with its reason. */
export const PythonInfoSchema = Type.Object(
  {
    python: Str(100),
    executable: Str(10_000),
    engineVersion: Str(100),
    torch: NullableStr(200),
    torchError: NullableStr(10_000),
    cuda: Type.Object(
      {
        available: Type.Boolean(),
        version: NullableStr(100),
        devices: Type.Array(Str(1000), { maxItems: 256 }),
        reason: NullableStr(10_000),
      },
      open,
    ),
    mps: Type.Object({ available: Type.Boolean(), reason: NullableStr(10_000) }, open),
    threads: Type.Union([Type.Integer(), Type.Null()]),
    cpuOk: Type.Boolean(),
  },
  open,
);
export type PythonInfo = Static<typeof PythonInfoSchema>;

export const engineLineProblems = (x: unknown) => schemaProblems(EngineLineSchema, x);
export const endLineProblems = (x: unknown) => schemaProblems(EndLineSchema, x);
export const pythonInfoProblems = (x: unknown) => schemaProblems(PythonInfoSchema, x);
