# The dataspace container's image: a participant of a dataspace outside the
# federation (testnet/cmd/dataspace), its key and the Grand Est node's public
# key. testnet/testnet.sh builds the static binary on the host and prepares
# this build context; the image is local, never pushed.
FROM scratch
COPY --chown=65532:65532 dataspace dataspace.key fr-grandest.pem /
USER 65532:65532
EXPOSE 8181/tcp
ENTRYPOINT ["/dataspace"]
