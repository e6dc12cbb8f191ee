// Package stats computes the statistics of federated analysis: each data
// owner's node computes aggregates over its own rows and releases only those
// its disclosure rules allow; the researcher's node combines the owners'
// releases into the answer the pooled rows would have given. The package is
// pure computation: no I/O, no networking, no policy. The owner's policy
// decides the Rules; the owner's node passes them to the owner-side
// functions here, which refuse (a *DisclosureError naming the rule) or
// withhold (a Suppression reason on a count) what the rules forbid.
//
// # What leaves an owner
//
//   - Summarise: the number of values, their mean, standard deviation (and
//     M2 = (N−1)·SD², the same fact) and seven quantiles (5 % to 95 %). Each
//     quantile is the average of the MinCellCount values nearest its
//     position, so no quantile is one person's value; the minimum and
//     maximum are never released.
//   - CrossTab: counts of a one- or two-way table, without margins.
//   - MeansBy: per level of a factor, the count, mean and SD.
//   - Histogram: counts per bin, below the first break and above the last.
//   - Correlation: per pair of variables, over the rows where both are
//     present, the count, both means and the sums of squared and crossed
//     deviations (equivalent to n, Σx, Σy, Σx², Σy², Σxy).
//   - IRLSPartial (one per GLM iteration): the row count, the p×p matrix
//     X'WX, the vector X'Wz, the deviance and the log-likelihood at the
//     coefficients the researcher sent. With a gaussian model these are the
//     covariates' sums of squares and cross-products and their
//     cross-products with the response; an indicator's diagonal entry is the
//     number of rows in that category.
//
// # The rules, and why each exists
//
//   - MinSubsetRows (default 5): no analysis runs over fewer rows. A mean
//     of two values and the knowledge of one gives the other; the fewer the
//     rows, the closer any aggregate is to an individual's record. Rules that
//     set it below 2 do not validate.
//   - MinCellCount (default 5): a count between 1 and MinCellCount − 1 in a
//     table, histogram or group is withheld (primary suppression), because a
//     small cell singles out people who can be recognised from the
//     categories alone (the "rule of five" of official statistics). A zero
//     is released: it describes no one. Quantiles average MinCellCount
//     values for the same reason. In a GLM, every indicator-like column (only
//     0 and 1 in it) must hold no ones or at least MinCellCount, and no zeros
//     or at least MinCellCount, and a binomial response at least MinCellCount
//     of each outcome ("glm_small_category"): a coefficient estimated from a
//     handful of people describes those people.
//   - Secondary suppression: when a row or column of a table (the whole
//     list of a one-way table, a histogram or a grouped summary) holds
//     exactly one withheld count, the smallest other non-zero count of that
//     line is withheld too, repeatedly until no line holds a single withheld
//     count next to a released non-zero one. Otherwise the line's total,
//     known from another release (a summary's N, a one-way table of the same
//     factor), less the released counts would give the withheld count back.
//     When a line's other counts are all zero there is nothing to add; the
//     withheld count then stays safe only as long as that line's total is
//     not released by other means.
//   - MaxParamsShare (default 0.33, DataSHIELD's nfilter.glm): a GLM may
//     have at most this many parameters per row. A model with nearly as many
//     parameters as rows reproduces the rows in its fitted values.
//   - MaxFactorLevels (default 40): a factor with more levels is refused in
//     tables, grouped summaries and models (CheckFactorLevels, which the
//     code that expands a factor into indicators calls). Many levels make
//     small cells and near-identifying categories.
//   - MaxIterations (default 25, R's glm.control maxit): the most GLM
//     iterations one owner serves for one fit (CheckIteration). The
//     researcher chooses the coefficients each iteration is computed at; each
//     answer is a new weighted aggregate of the same rows, and enough of them
//     at chosen coefficients would let the rows be solved for. A genuine fit
//     converges in well under 25 iterations.
//   - Pairwise differences in Correlation ("pairwise_difference"): the rows
//     where x and y are both present and those where x and z are both
//     present must differ by none or at least MinCellCount rows, in either
//     direction; otherwise Σx over one pair less Σx over the other is the x
//     of those few people.
//
// A combined result is withheld where any owner withheld its share
// (SuppressedInPart); the combiners do not take Rules, because what reaches
// them has passed each owner's rules already.
//
// # Caveats
//
//   - The functions are stateless: each sees one request. Differencing
//     across requests — the same analysis over two subsets that differ by
//     one person, or a table and a summary over overlapping subsets — is not
//     prevented here. How subsets may be chosen, how often, and how requests
//     are audited belong to the owner's policy and the service that calls
//     this package.
//   - Secondary suppression follows the simple rule above; it is not an
//     optimal (least-information-loss) suppression pattern, and in a
//     two-way table a single small cell can cascade until most of a row and
//     a column are withheld.
//   - Combined quantiles are the count-weighted means of the owners'
//     quantiles (QuantilesApproximate), not the pooled quantiles; combined
//     N, mean, SD, correlations, counts and GLM fits are exact (to rounding).
//   - GLM fits use the normal equations (X'WX), which federation needs;
//     designs whose columns are very nearly collinear (less than 1e-10 of a
//     column's weighted variation left unexplained by the columns before
//     it) are refused as singular, where R's QR would still fit them.
//     Standard errors come, as in R's summary.glm, from the weights at the
//     start of the last iteration.
//   - A fit that does not converge is an error (*ConvergenceError), where R
//     returns it with a warning.
package stats
