// Scroll to the bottom in steps so lazy loading and IntersectionObservers fire.
async ({ steps, pause }) => {
  for (let i = 0; i < steps; i++) {
    const before = window.scrollY;
    window.scrollBy(0, Math.max(200, window.innerHeight * 0.8));
    await new Promise((resolve) => setTimeout(resolve, pause));
    if (window.scrollY === before && window.scrollY + window.innerHeight >= document.documentElement.scrollHeight - 2) break;
  }
  window.scrollTo(0, 0);
  return document.documentElement.scrollHeight;
}
