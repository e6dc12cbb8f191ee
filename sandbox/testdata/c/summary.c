/* summary: the count, mean and standard deviation of the last column of a
 * CSV file (argv[1], by default /data/input.csv, header skipped), as
 * testdata/src/summary does in Go. Built for wasm32-wasi and natively by
 * BenchmarkSummaryC. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
	FILE *f = fopen(argc > 1 ? argv[1] : "/data/input.csv", "r");
	if (!f) {
		perror("open");
		return 1;
	}
	static char buf[1 << 16], line[4096];
	setvbuf(f, buf, _IOFBF, sizeof buf);
	long n = 0;
	double mean = 0, m2 = 0;
	if (!fgets(line, sizeof line, f)) /* header */
		return 1;
	while (fgets(line, sizeof line, f)) {
		char *c = strrchr(line, ','), *end;
		double v = strtod(c ? c + 1 : line, &end);
		if (end == (c ? c + 1 : line)) {
			fprintf(stderr, "not a number: %s", line);
			return 1;
		}
		n++;
		double d = v - mean;
		mean += d / (double)n;
		m2 += d * (v - mean);
	}
	printf("%ld %.9g %.9g\n", n, mean, n > 1 ? sqrt(m2 / (double)(n - 1)) : 0.0);
	return 0;
}
