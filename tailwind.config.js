// Tailwind CSS v3 configuration for Postern. Rebuild static/css/app.css with `npm run css`.
// Everything is served from our own origin: no web fonts, no CDN.

const forms = require('@tailwindcss/forms')

/** @type {import('tailwindcss').Config} */
module.exports = {
  content: [
    './views/**/*.templ',
    './views/**/*_templ.go',
    './static/js/**/*.js',
    // Vendored htmx is not our markup: scanning it would emit utilities nobody uses.
    '!./static/js/htmx.min.js',
  ],
  theme: {
    extend: {
      fontFamily: {
        // System UI stack: the admin's own platform font, nothing downloaded.
        sans: [
          'system-ui',
          '-apple-system',
          '"Segoe UI"',
          'Roboto',
          '"Helvetica Neue"',
          '"Noto Sans"',
          '"Liberation Sans"',
          'Arial',
          'sans-serif',
          '"Apple Color Emoji"',
          '"Segoe UI Emoji"',
          '"Segoe UI Symbol"',
          '"Noto Color Emoji"',
        ],
        // Monospace for Microsoft error codes, ids and tokens.
        mono: [
          'ui-monospace',
          'SFMono-Regular',
          'Menlo',
          'Monaco',
          'Consolas',
          '"Liberation Mono"',
          '"Courier New"',
          'monospace',
        ],
      },
      maxWidth: {
        // Reading width for page content; tables may use the full width.
        content: '72rem',
      },
    },
  },
  plugins: [
    // 'class' strategy: only elements with form-input, form-select, … are restyled,
    // so templ components opt in explicitly.
    forms({ strategy: 'class' }),
  ],
}
