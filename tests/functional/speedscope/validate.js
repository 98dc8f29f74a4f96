'use strict';
// node validate.js FILE...
//
// Validates pyrometer's speedscope files against the JSON schema that the
// speedscope package ships (dist/release/file-format-schema.json), then
// checks what a schema cannot say: the file is valid UTF-8, frame indices
// are in range, every sample has a weight, and each profile's endValue is
// its weights' sum (pyrometer's profiles start at 0). Prints "ok FILE" or
// "FAIL FILE" and the reasons; exits 1 when any file fails.
const fs = require('fs');
const path = require('path');
const Ajv = require('ajv');

const pkg = path.dirname(require.resolve('speedscope/package.json'));
const schemaPath = path.join(pkg, 'dist', 'release', 'file-format-schema.json');
const schema = JSON.parse(fs.readFileSync(schemaPath, 'utf8'));
const validate = new Ajv({ allErrors: true }).compile(schema);

function isCount(v) {
  return Number.isInteger(v) && v >= 0;
}

function checkProfile(p, i, nframes, errs) {
  const at = `profiles[${i}]`;
  if (p.type !== 'sampled') {
    errs.push(`${at}: type ${JSON.stringify(p.type)}, pyrometer writes "sampled"`);
    return;
  }
  if (p.samples.length !== p.weights.length)
    errs.push(`${at}: ${p.samples.length} samples but ${p.weights.length} weights`);
  p.samples.forEach((stack, j) => {
    for (const f of stack)
      if (!isCount(f) || f >= nframes)
        errs.push(`${at}.samples[${j}]: frame index ${f} is not in [0, ${nframes})`);
  });
  let sum = 0;
  p.weights.forEach((w, j) => {
    if (!isCount(w)) errs.push(`${at}.weights[${j}]: ${w} is not a count`);
    sum += w;
  });
  if (p.startValue !== 0 || p.endValue !== sum)
    errs.push(`${at}: startValue ${p.startValue}, endValue ${p.endValue}; expected 0 and ` +
              `the weights' sum ${sum}`);
}

function check(file) {
  let text;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(fs.readFileSync(file));
  } catch (e) {
    return [`not valid UTF-8 (or unreadable): ${e.message}`];
  }
  let data;
  try {
    data = JSON.parse(text);
  } catch (e) {
    return [`not JSON: ${e.message}`];
  }
  if (!validate(data))
    return validate.errors.map((e) => `schema: ${e.instancePath || '/'} ${e.message}`);
  const errs = [];
  const nframes = data.shared.frames.length;
  data.profiles.forEach((p, i) => checkProfile(p, i, nframes, errs));
  const a = data.activeProfileIndex;
  if (a !== undefined && !(isCount(a) && a < data.profiles.length))
    errs.push(`activeProfileIndex ${a} is not the index of a profile`);
  return errs;
}

let failed = 0;
for (const file of process.argv.slice(2)) {
  const errs = check(file);
  if (errs.length) {
    failed++;
    console.log(`FAIL ${file}`);
    for (const e of errs.slice(0, 20)) console.log(`  ${e}`);
    if (errs.length > 20) console.log(`  ... and ${errs.length - 20} more`);
  } else {
    console.log(`ok ${file}`);
  }
}
process.exit(failed ? 1 : 0);
