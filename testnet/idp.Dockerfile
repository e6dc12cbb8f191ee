# The identity provider container's image (testnet/cmd/idp): the static
# binary, the testnet CA's certificate for "idp" and its key, and the
# regions' web clients (clients.json). testnet/testnet.sh runs `idp init`
# on the host and prepares this build context; the image is local, never
# pushed.
FROM scratch
COPY idp /
COPY --chown=65532:65532 config /config
USER 65532:65532
EXPOSE 8443/tcp
ENTRYPOINT ["/idp"]
CMD ["serve", "-dir", "/config", "-listen", ":8443", "-issuer", "https://idp:8443"]
