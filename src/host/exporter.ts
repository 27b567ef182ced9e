/**
 * Export a run: CSV of every series, a TensorBoard event file, and a PNG of the monitor's charts.
 * Files go to `<folder>/<runId>/`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { seriesToCsv, seriesToScalars } from '../shared/exportData';
import type { RunSeries } from '../shared/series';
import { encodeEventFile, eventFileName } from '../shared/tfevents';

export type ExportFormat = 'csv' | 'tensorboard' | 'png';
export const EXPORT_FORMATS: readonly ExportFormat[] = ['csv', 'tensorboard', 'png'];

/** Write the CSV and/or TensorBoard files of a run; returns the files written. */
export function writeDataExports(series: RunSeries, outDir: string, formats: readonly ExportFormat[]): string[] {
  fs.mkdirSync(outDir, { recursive: true });
  const written: string[] = [];
  if (formats.includes('csv')) {
    const f = path.join(outDir, `${series.runId}.csv`);
    fs.writeFileSync(f, seriesToCsv(series));
    written.push(f);
  }
  if (formats.includes('tensorboard')) {
    const points = seriesToScalars(series);
    const t0 = (series.t0 ?? Date.now()) / 1000;
    const f = path.join(outDir, eventFileName(t0, series.header?.host ?? os.hostname()));
    fs.writeFileSync(f, encodeEventFile(points, t0));
    written.push(f);
  }
  return written;
}
