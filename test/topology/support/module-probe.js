// Preloaded (`node -r`) by test/topology/bundle.topology-spec.ts into the built API: on
// SIGUSR2 it prints the files in the module cache (`MODULES [...]`), nothing else.
process.on('SIGUSR2', () => {
  process.stdout.write(`MODULES ${JSON.stringify(Object.keys(require.cache))}\n`);
});
