import { createRouter, createWebHashHistory } from 'vue-router'

// Hash history: the same URLs work from file:// (desktop) and from the web shell.
export const router = createRouter({
  history: createWebHashHistory(),
  routes: [
    { path: '/', redirect: '/datasets' },
    { path: '/datasets', name: 'datasets', component: () => import('./views/DatasetsView.vue'), meta: { title: 'Datasets' } },
    { path: '/model', name: 'model', component: () => import('./views/ModelView.vue'), meta: { title: 'Model' } },
    { path: '/train', name: 'train', component: () => import('./views/TrainView.vue'), meta: { title: 'Train' } },
    { path: '/experiments', name: 'experiments', component: () => import('./views/ExperimentsView.vue'), meta: { title: 'Experiments' } },
    { path: '/export', name: 'export', component: () => import('./views/ExportView.vue'), meta: { title: 'Export' } }
  ]
})
