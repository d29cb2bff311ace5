// run.js MODEL.onnx csv|idx FILE - runs an ONNX model in onnxruntime on the
// CPU over the inputs of FILE, read as nnrun's datasets read them, and prints
// one CSV row of outputs per sample (tests/onnx.sh compares them with
// nnrun predict).
//   csv FILE  rows of numbers, no header; the last column is the target
//   idx FILE  IDX images (magic 0x803), raw: each pixel / 255, (N, 1, rows, cols)
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

function readCsv(path) {
    const rows = fs.readFileSync(path, 'utf8').split('\n').filter((l) => l.trim() !== '');
    const width = rows[0].split(',').length - 1;
    const data = new Float32Array(rows.length * width);
    rows.forEach((line, i) => {
        const cells = line.split(',');
        for (let k = 0; k < width; k++) data[i * width + k] = Number(cells[k]);
    });
    return new ort.Tensor('float32', data, [rows.length, width]);
}

function readIdx(path) {
    const buf = fs.readFileSync(path);
    if (buf.readUInt32BE(0) !== 0x803) throw new Error(path + ': not an IDX image file');
    const n = buf.readUInt32BE(4), h = buf.readUInt32BE(8), w = buf.readUInt32BE(12);
    const data = new Float32Array(n * h * w);
    for (let i = 0; i < data.length; i++) data[i] = Math.fround(buf[16 + i] / 255);
    return new ort.Tensor('float32', data, [n, 1, h, w]);
}

async function main() {
    const [model, kind, file] = process.argv.slice(2);
    const input = kind === 'csv' ? readCsv(file) : readIdx(file);
    const session = await ort.InferenceSession.create(model, { executionProviders: ['cpu'] });
    const result = await session.run({ [session.inputNames[0]]: input });
    const out = result[session.outputNames[0]];
    const per = out.data.length / input.dims[0];
    const lines = [];
    for (let i = 0; i < input.dims[0]; i++) {
        const row = [];
        for (let k = 0; k < per; k++) row.push(out.data[i * per + k].toPrecision(9));
        lines.push(row.join(','));
    }
    process.stdout.write(lines.join('\n') + '\n');
}

main().catch((e) => {
    process.stderr.write('run.js: ' + e.message + '\n');
    process.exit(1);
});
