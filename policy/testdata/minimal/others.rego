package xborder.catalogue

default visible := false

visible if input.entry.classification != "confidential"
