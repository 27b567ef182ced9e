/** The signals that ask a training process to stop (the CLI's trainers: `train`, `run`). */
const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** Call `handler` on SIGINT, SIGTERM and SIGHUP until the returned function removes it. */
export function onStopSignals(handler: (sig: NodeJS.Signals) => void): () => void {
  for (const s of STOP_SIGNALS) process.on(s, handler);
  return () => {
    for (const s of STOP_SIGNALS) process.off(s, handler);
  };
}
