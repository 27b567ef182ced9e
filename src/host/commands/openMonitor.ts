/** `fisherLens.openMonitor` (Open Monitor): the monitor of the run given, else of a picked one. */
import { idOf, pickRun, type CommandHost, type RunArg } from './common';

export async function openMonitor(h: CommandHost, arg?: RunArg): Promise<void> {
  const runId =
    idOf(arg) ??
    (await pickRun(
      h,
      () => true,
      'Open the monitor of which run?',
      'No runs yet. Start one with "Fisher Lens: New Run…".',
    ));
  if (runId) h.openMonitor(runId);
}
