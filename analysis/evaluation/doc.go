// Package evaluation computes the metrics of an external validation of a
// prediction model: an owner runs the researcher's model on its own
// labelled rows, and its node computes, from the scores and the labels,
// the metrics it releases; no prediction leaves the owner. The
// researcher's node pools the owners' releases (Pool). The package is pure
// computation, like package stats, whose Rules, errors and suppression
// reasons it shares: no I/O, no networking, no policy.
//
// # What leaves an owner
//
// Evaluate releases an Evaluation: the number of rows, of positives and of
// negatives; the AUC (Mann–Whitney over the exact scores, ties one half)
// with DeLong's standard error and confidence interval, clamped to [0, 1];
// the Brier score and the sum of squared errors behind it; at each
// requested threshold t (a row is predicted positive when score ≥ t) the
// confusion counts TP, FP, TN, FN with accuracy, sensitivity and
// specificity; calibration bins, each with its row count, positives and
// score sum (mean predicted = score sum / n, observed rate = positives / n);
// and Parts.Cells, a coarsened histogram of the scores by class, which the
// pooled AUC is computed from.
//
// # The rules, and how every count is kept safe
//
//   - MinSubsetRows: fewer rows are refused (*stats.DisclosureError).
//   - MinCellCount (k): fewer than k positives or negatives are refused —
//     every metric would describe those few. A refusal says "fewer than
//     k", never the count.
//   - Scores are placed on a grid of Grid = 1000 equal cells over [0, 1].
//     Thresholds must be multiples of 1/Grid below 1 (0.35 is; 0.3456 is
//     not), so that "score ≥ t" is a union of grid cells. Calibration bin b
//     of B holds the grid cells g with ⌊g·B/Grid⌋ = b: equal width, edges at
//     b/B rounded up to the grid (exact when B divides 1000).
//   - Every released count is a sum of released cells, and every cell
//     holds none or at least k positives and none or at least k negatives.
//     So no count, and no difference or sum of counts, counts fewer than k
//     rows of a class. It is not enough to suppress small confusion cells
//     one by one: TP at 0.85 less the positives of the cells above 0.87
//     would count the positives between 0.85 and 0.87, and TP at two
//     thresholds would count those between them.
//
// The cells are made by cutting [0, 1] in three passes, each of which keeps
// the cuts of the one before and, within each span they leave, walks its
// candidate cuts left to right, closing a piece at the first candidate
// where the piece obeys; a piece left over at the end of a span that does
// not obey is merged into the pieces before it until it does.
//
//  1. The thresholds. A piece obeys when its positives and its negatives
//     are each 0 or ≥ k; an empty piece obeys (it describes no one).
//  2. The calibration edges, with the same rule.
//  3. Every grid point, and now a piece must also hold at least k rows.
//
// A threshold whose grid point is not a cut of the result is withheld: its
// four counts and three rates carry SuppressedThresholdInCell. The
// calibration bins released are the requested bins merged, left to right
// at the edges the cells kept, until each holds at least k rows and none
// or at least k of each class; a bin that does not is merged with its right
// neighbour, and the last with its left. Thresholds come first because the
// researcher chose each one; calibration bins merge gracefully.
//
// # Pooling, and what "equals the central computation" means
//
// Pool adds the owners' releases. For rows pooled in one place:
//
//   - N, positives and negatives equal the pooled rows' exactly.
//   - At every threshold that every owner released, TP, FP, TN and FN equal
//     the counts over the pooled rows exactly, and so do the rates; a
//     threshold any owner withheld is withheld (stats.SuppressedInPart).
//   - The Brier score equals the pooled rows' within 1e-12, relatively (the
//     sums are compensated, so only their order differs).
//   - Calibration: the pooled bins are cut where every owner's bins are
//     cut. For each pooled bin the row count and positives equal those of
//     the pooled rows with scores in it exactly, and the score sum (so the
//     mean predicted) within 1e-12, relatively. When no owner merged a bin,
//     these are the requested bins.
//   - AUC: each owner releases its scores only as cells, and the owners'
//     cells differ. Pool counts a positive–negative pair as ordered (1 or 0)
//     when the cells the two were released in — possibly different owners'
//     — do not overlap, and one half when they do. That is exactly (the
//     same float64: the pairs are counted in integers) the AUC computed
//     centrally over the pooled rows with each row's score replaced by its
//     owner's cell, and its DeLong interval is that computation's (to
//     rounding). It differs from the AUC of the pooled rows' own scores by
//     at most Pooled.AUCBound = ½ · (pairs whose cells overlap) / (P·N):
//     only those pairs can count otherwise than one half, by one half at
//     most. The bound is computed from the released cells and reaches 0.5
//     only when every pair shares a cell; with five owners of 4,000 to
//     12,000 rows it is 0.006 and the error 0.0003 (TestPoolEqualsCentral),
//     with five owners of 200,000 rows 0.0004 and 1e-6.
//
// Pool does not re-merge the owners' counts and does not take rules: each
// release has passed its owner's.
//
// # Caveats
//
//   - The model is the researcher's: its scores can be any function of a
//     row. The cells protect what depends on the labels only through
//     counts. The exact sums do not: the Brier score (which carries the sum
//     of the positives' scores), the AUC and its variance over the exact
//     scores, and the bins' score sums. A model that scores one person 1
//     and everyone else 0 makes the Brier score and the owner's AUC tell
//     that person's label. Which models may run on which rows is the owner's
//     policy's decision, made before Evaluate is called.
//   - A cell holding only one class tells the label of anyone known to
//     score in it (the researcher holds the model, so knowing a person's
//     features is knowing their score). The rule admits it as stats admits
//     a zero cell in a table.
//   - A cell's upper edge lies where a piece first obeyed, so it tells
//     within 1/Grid where some row of the cell scores. No cell starts at
//     the lowest score or ends at the highest: the first cell starts at 0
//     and the last ends at 1, or at a threshold or calibration edge beyond
//     which no one scores.
//   - Evaluate is stateless. Two requests whose thresholds differ by 0.001
//     each pass, and their counts' difference counts the rows between.
//     Which thresholds may be asked, how often, and over which rows belong
//     to the owner's policy and the service that calls this package.
//   - A class of one row (possible only when MinCellCount is 1) contributes
//     no variance term to DeLong's interval.
package evaluation
