/** The run directory: writer (trainer), reader, lister and tailers (host, CLI). No `vscode`, no tfjs. */
export * from './runId';
export * from './events';
export * from './summary';
export * from './writer';
export * from './reader';
export * from './tailer';
export * from './recorder';
export * from './exitCodes';
export * from './statusFixups';
