// Progressive enhancement: a Danger zone button stays disabled until the package name is typed.
// Without JavaScript the server checks the confirmation on its own.
document.addEventListener("DOMContentLoaded", () => {
  for (const input of document.querySelectorAll("input[data-confirm]")) {
    const button = input.form.querySelector("button[type=submit]");
    const expected = input.dataset.confirm;
    const update = () => { button.disabled = input.value.trim() !== expected; };
    input.addEventListener("input", update);
    update();
  }
});
