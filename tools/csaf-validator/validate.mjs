// Validates CSAF 2.0 files with BSI's csaf-validator-lib and prints one JSON object.
//
//   node validate.mjs FILE.json [FILE.json ...]
//
// Per file: the strict OASIS schema test, every mandatory test (6.1.x; a failure makes
// the document invalid), every optional test (6.2.x; warnings) and the informative
// tests (6.3.x; infos) that need neither the network (6.3.6, 6.3.7 fetch URLs) nor
// hunspell (6.3.8). Exit status 0 when every file was read (valid or not), 2 on a
// usage or read error; the caller judges the results.
import { readFile } from 'node:fs/promises'
import validateStrict from '@secvisogram/csaf-validator-lib/validateStrict.js'
import * as mandatory from '@secvisogram/csaf-validator-lib/mandatoryTests.js'
import * as optional from '@secvisogram/csaf-validator-lib/optionalTests.js'
import * as informative from '@secvisogram/csaf-validator-lib/informativeTests.js'
import { csaf_2_0_strict } from '@secvisogram/csaf-validator-lib/schemaTests.js'

const OFFLINE_INFORMATIVE = Object.entries(informative)
  .filter(([name]) => !/_6_3_(6|7|8)$/.test(name))
  .map(([, test]) => test)

const groups = {
  schema: [csaf_2_0_strict],
  mandatory: Object.values(mandatory),
  optional: Object.values(optional),
  informative: OFFLINE_INFORMATIVE,
}

function summarise(result) {
  return result.tests.map((t) => ({
    name: t.name,
    isValid: t.isValid,
    errors: t.errors,
    warnings: t.warnings,
    infos: t.infos,
  }))
}

const files = process.argv.slice(2)
if (files.length === 0) {
  console.error('usage: node validate.mjs FILE.json [FILE.json ...]')
  process.exit(2)
}
const version = JSON.parse(
  await readFile(
    new URL('./node_modules/@secvisogram/csaf-validator-lib/package.json', import.meta.url)
  )
).version
const out = { validator: '@secvisogram/csaf-validator-lib', version, files: [] }
for (const file of files) {
  let doc
  try {
    doc = JSON.parse(await readFile(file, 'utf8'))
  } catch (error) {
    console.error(`${file}: ${error.message}`)
    process.exit(2)
  }
  const entry = { file, tests: {} }
  for (const [group, tests] of Object.entries(groups)) {
    entry.tests[group] = summarise(await validateStrict(tests, doc))
  }
  entry.counts = Object.fromEntries(
    Object.entries(entry.tests).map(([group, tests]) => [group, tests.length])
  )
  entry.isValid = [...entry.tests.schema, ...entry.tests.mandatory].every((t) => t.isValid)
  entry.failed = [...entry.tests.schema, ...entry.tests.mandatory]
    .filter((t) => !t.isValid)
    .map((t) => t.name)
  entry.warned = entry.tests.optional.filter((t) => t.warnings.length).map((t) => t.name)
  entry.informed = entry.tests.informative.filter((t) => t.infos.length).map((t) => t.name)
  out.files.push(entry)
}
process.stdout.write(JSON.stringify(out) + '\n')
