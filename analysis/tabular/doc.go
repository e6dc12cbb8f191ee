// Package tabular is the data model of the tabular datasets that federated
// analyses run over: the data dictionary an owner publishes with a dataset
// (which columns it has, their types, units and categorical levels, and which
// column identifies a person), the columnar table read from the owner's CSV
// or Parquet file against that dictionary, the row filters and model formulas a
// researcher writes, and the design (model matrix layout) a requester agrees
// once so that every owner builds the same columns from its own rows.
//
// The package is pure: no networking, no policy, no statistics. The rows it
// reads never leave the owner; what leaves is computed elsewhere
// (analysis/stats) from the slices this package hands out.
//
// # Caveats
//
//   - An identifier column (Column.Identifier) is read and its cells are
//     validated, but its values are not kept: the table cannot hand them out,
//     and filters, formulas and designs that name it are refused with an
//     error wrapping ErrIdentifier.
//   - Missing values: an empty cell or NA. They are NaN in Numbers and -1 in
//     Codes, never match a filter comparison (filters use three-valued logic,
//     so "not (age > 40)" does not match a missing age either), and drop the
//     row from a design's matrix (complete cases).
//   - Integers are held as float64 and bounded to ±2^53, where float64 is
//     still exact.
//   - A Parquet file gives the table its CSV would: a null is missing, a
//     *ReadError's Line is the row's CSV line (row + 1), and an identifier
//     column may have any Parquet type (its values are not even read).
//   - Column names that are filter keywords (and, or, not, in, true, false,
//     in any case) are refused by Dictionary.Validate, so every column can be
//     named in a filter.
package tabular
