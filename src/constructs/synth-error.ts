/** The error every invalid prop fails synth with: a fixed message that starts `LambdaTasksQueue:`. */
export function synthError(message: string): Error {
  return new Error(`LambdaTasksQueue: ${message}`);
}

/** Fails synth with {@link synthError}. */
export function failSynth(message: string): never {
  throw synthError(message);
}
