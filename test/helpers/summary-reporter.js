'use strict';
/**
 * Jest reporter: at the very end (when the process exits, after Jest's own summary),
 * prints exactly one plain line
 *
 *     N passed, N failed
 *
 * from the aggregated results. A suite that failed without a failing test (it could not
 * run: syntax/type error, a throwing import, a failing beforeAll/afterAll) counts as one
 * failed test. With CI=true skipping is forbidden: skipped and todo tests count as failed
 * too, are named on stderr, and make jest exit non-zero (through getLastError).
 */
class SummaryReporter {
  constructor(globalConfig, options) {
    this._options = options || {};
    this._error = undefined;
    this._pending = undefined;
  }

  onRunComplete(_testContexts, results) {
    const passed = results.numPassedTests;
    let failed = results.numFailedTests;
    for (const suite of results.testResults) {
      const suiteFailed = Boolean(suite.testExecError) || Boolean(suite.failureMessage);
      if (suiteFailed && suite.numFailingTests === 0) failed += 1;
    }
    if (process.env.CI === 'true') {
      const skipped = [];
      for (const suite of results.testResults) {
        for (const t of suite.testResults) {
          if (t.status === 'pending' || t.status === 'skipped' || t.status === 'todo' || t.status === 'disabled') {
            skipped.push(`${suite.testFilePath}: ${t.fullName}`);
          }
        }
      }
      if (skipped.length > 0) {
        failed += skipped.length;
        process.stderr.write(
          `CI=true forbids skipped tests; counted as failed:\n${skipped.map((s) => `  ${s}`).join('\n')}\n`,
        );
        this._error = new Error(`${skipped.length} skipped test(s) under CI=true`);
      }
    }
    // Jest's own summary reporter runs after this one; print when the process exits so
    // that this line is the last one.
    const line = `${passed} passed, ${failed} failed\n`;
    if (this._pending === undefined) {
      process.once('exit', () => {
        process.stdout.write(this._pending);
      });
    }
    this._pending = line;
  }

  getLastError() {
    return this._error;
  }
}

module.exports = SummaryReporter;
