// The bytes behind a blob: URL, as base64, read from inside the page that made it.
async (url) => {
  const response = await fetch(url);
  const bytes = new Uint8Array(await response.arrayBuffer());
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return { type: response.headers.get("content-type") || "", data: btoa(binary) };
}
