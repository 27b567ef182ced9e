/**
 * When "Rerun with Fisher Penalty" applies, decided from a run's config alone (no validator imported: the Runs tree
 * asks for every run). `fisherPenaltyRerunProblem` in ./presets adds the full check that the new config is valid.
 */

/** The config fields read (a run's config.json, untrusted: anything may be missing). */
export interface RerunConfigFields {
  penalty?: { kind?: unknown } | null;
  model?: { arch?: unknown } | null;
  dataset?: { name?: unknown; syntheticShape?: unknown } | null;
}

/** Input height × width of a config's data where the config alone tells (folder datasets: null). */
export function inputSide(config: RerunConfigFields): [number, number] | null {
  const d = config.dataset;
  if (d?.name === 'mnist' || d?.name === 'fashion-mnist') return [28, 28];
  if (d?.name === 'cifar10' || d?.name === 'cifar100') return [32, 32];
  if (d?.name === 'synthetic') {
    const s = Array.isArray(d.syntheticShape) ? d.syntheticShape : [8, 8, 1];
    return [Number(s[0]), Number(s[1])];
  }
  return null;
}

/**
 * Why the Fisher-penalty rerun does not apply (null: it does): the run already trains with a penalty (the Fisher
 * penalty, or GP/GPr/GPx, which already counter the explosion), or its model cannot take its data (SimpleCNN needs
 * inputs of at least 12×12), or it has no config.
 */
export function rerunFisherPenaltyBlocker(
  config: RerunConfigFields | null | undefined,
): string | null {
  if (!config) return 'its config.json is missing';
  const kind = config.penalty?.kind ?? 'none';
  if (kind !== 'none')
    return `it already trains with ${kind === 'fisher' ? 'the Fisher penalty' : `a penalty (${String(kind)})`}`;
  const side = inputSide(config);
  if (config.model?.arch === 'simplecnn' && side && (side[0] < 12 || side[1] < 12))
    return `its model (simplecnn) needs inputs of at least 12×12, and its data are ${side[0]}×${side[1]}`;
  return null;
}
