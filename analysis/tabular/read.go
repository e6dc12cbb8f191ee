package tabular

import (
	"fmt"
	"io"
	"mime"
	"strings"
)

// Media types of the files a table is read from.
const (
	MediaTypeCSV     = "text/csv"
	MediaTypeParquet = "application/vnd.apache.parquet"
)

// formats maps a media type (without its parameters) to the format read.
var formats = map[string]string{
	MediaTypeCSV:            MediaTypeCSV,
	"application/csv":       MediaTypeCSV,
	"text/plain":            MediaTypeCSV, // what content sniffing makes of a CSV file
	"":                      MediaTypeCSV, // published before media types were kept
	MediaTypeParquet:        MediaTypeParquet,
	"application/x-parquet": MediaTypeParquet,
}

// MediaTypeError is the refusal of a file whose media type names no
// format a table is read from.
type MediaTypeError struct {
	MediaType string
}

func (e *MediaTypeError) Error() string {
	return fmt.Sprintf("media type %q: a table is read from CSV (%s) or Parquet (%s) only", truncate(e.MediaType), MediaTypeCSV, MediaTypeParquet)
}

// Read reads a file of size bytes, CSV or Parquet as its media type says
// (parameters such as charset are ignored), against a dictionary, within
// DefaultLimits. CSV is text/csv, application/csv, text/plain or no media
// type; Parquet is application/vnd.apache.parquet or
// application/x-parquet. Another media type is a *MediaTypeError.
func Read(r io.ReaderAt, size int64, mediaType string, d Dictionary) (*Table, error) {
	base := ""
	if strings.TrimSpace(mediaType) != "" {
		var err error
		if base, _, err = mime.ParseMediaType(mediaType); err != nil {
			return nil, &MediaTypeError{MediaType: mediaType}
		}
	}
	switch formats[base] {
	case MediaTypeCSV:
		return ReadCSV(io.NewSectionReader(r, 0, size), d)
	case MediaTypeParquet:
		return ReadParquet(r, size, d)
	}
	return nil, &MediaTypeError{MediaType: mediaType}
}
