// Prints one plain closing line ("jest: N passed, N failed, N skipped") so that CI logs
// and humans read the same totals, skipped MongoDB contract runs included.
class SummaryReporter {
  onRunComplete(_contexts, results) {
    const skipped = results.numPendingTests + results.numTodoTests;
    process.stdout.write(
      `\njest: ${results.numPassedTests} passed, ${results.numFailedTests} failed, ${skipped} skipped\n`,
    );
  }
}
module.exports = SummaryReporter;
