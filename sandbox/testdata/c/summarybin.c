/* summarybin: the count, mean and standard deviation of the little-endian
 * float64 values of a file (argv[1], by default /data/input.f64), as
 * testdata/src/summarybin does in Go. Built for wasm32-wasi and natively
 * by BenchmarkSummaryC. */
#include <math.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
	FILE *f = fopen(argc > 1 ? argv[1] : "/data/input.f64", "r");
	if (!f) {
		perror("open");
		return 1;
	}
	static char buf[1 << 16];
	setvbuf(f, buf, _IOFBF, sizeof buf);
	long n = 0;
	double mean = 0, m2 = 0, v;
	while (fread(&v, sizeof v, 1, f) == 1) { /* both targets are little-endian */
		n++;
		double d = v - mean;
		mean += d / (double)n;
		m2 += d * (v - mean);
	}
	printf("%ld %.9g %.9g\n", n, mean, n > 1 ? sqrt(m2 / (double)(n - 1)) : 0.0);
	return 0;
}
